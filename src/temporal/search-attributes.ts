import type { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { PATCH_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

/**
 * Registers the patch search attributes in a namespace, adding only the missing ones, so it is
 * safe to run at every start. On a self-hosted cluster this needs the operator API; on Temporal
 * Cloud register them once in the namespace settings instead (see docs/temporal.md, "Search attributes").
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = PATCH_SEARCH_ATTRIBUTES.filter((key) => !(key.name in (existing.customAttributes ?? {})));
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!])),
    });
  }
  return missing.map((key) => key.name);
}
