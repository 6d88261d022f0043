/** Signals, queries and updates of `patchLifecycle`, shared by the workflow and its clients. */
import { defineQuery } from '@temporalio/workflow';
import type { PatchStatus } from '../domain/patch';

export const statusQuery = defineQuery<PatchStatus>('status');
