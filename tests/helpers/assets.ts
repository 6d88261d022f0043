import type { AssetInput } from '../../src/domain/asset';

/** A medium-criticality internal Ubuntu 22.04 production host; tests override what they need. */
export function testAsset(id: string, overrides: Partial<AssetInput> = {}): AssetInput {
  return {
    id,
    hostname: `${id}.corp.example`,
    environment: 'production',
    os: { name: 'ubuntu', version: '22.04' },
    criticality: 'medium',
    exposure: 'internal',
    packages: [],
    ...overrides,
  };
}
