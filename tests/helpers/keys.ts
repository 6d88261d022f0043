/** The signing keys of a test run's API and workers: new for every test file. */
import { newSigningKey } from '../../src/signing/keys';

export const TEST_KEYS = { updates: newSigningKey(), workOrders: newSigningKey() };
