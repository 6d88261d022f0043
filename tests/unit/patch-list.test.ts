/** The visibility query and list items of `GET /v1/patches` (src/api/patch-list.ts). */
import { TypedSearchAttributes } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { decodePageToken, encodePageToken, listQuery, quote, toListItem } from '../../src/api/patch-list';
import { PatchAdvisories, PatchEmergency, PatchId, PatchPhase, PatchPriority, PatchState } from '../../src/workflows/search-attributes';

describe('listQuery', () => {
  it('always restricts to the latest run of patchLifecycle workflows', () => {
    expect(listQuery({})).toBe("WorkflowType = 'patchLifecycle' AND ExecutionStatus != 'ContinuedAsNew'");
  });

  it('turns each filter into a condition on its search attribute', () => {
    expect(listQuery({ phase: 'peer-review', state: 'waiting', priority: 2, emergency: false, advisory: 'USN-6859-1' })).toBe(
      "WorkflowType = 'patchLifecycle' AND ExecutionStatus != 'ContinuedAsNew' AND PatchPhase = 'peer-review' AND PatchState = 'waiting'" +
        " AND PatchPriority = 2 AND PatchEmergency = false AND PatchAdvisories = 'USN-6859-1'",
    );
  });

  it('keeps any value a literal, and refuses values the schemas would never let through', () => {
    expect(quote("x' OR WorkflowType != 'y")).toBe("'x\\' OR WorkflowType != \\'y'");
    expect(quote('a\\')).toBe("'a\\\\'");
    expect(() => listQuery({ phase: "peer-review' OR 'a'='a" as never })).toThrow(TypeError);
    expect(() => listQuery({ priority: 1.5 })).toThrow(TypeError);
  });
});

describe('toListItem', () => {
  const base = {
    workflowId: 'patch-20261122-0badcafe',
    startTime: new Date('2026-11-22T10:00:00Z'),
    status: { code: 1, name: 'RUNNING' as const },
  };

  it('reads the search attributes and the memo', () => {
    const item = toListItem({
      ...base,
      closeTime: undefined,
      memo: { title: 'regreSSHion', requestedBy: 'olga' },
      typedSearchAttributes: new TypedSearchAttributes([
        { key: PatchId, value: '20261122-0badcafe' },
        { key: PatchPhase, value: 'approval' },
        { key: PatchState, value: 'waiting' },
        { key: PatchPriority, value: 1 },
        { key: PatchEmergency, value: true },
        { key: PatchAdvisories, value: ['USN-6859-1'] },
      ]),
    });
    expect(item).toEqual({
      id: '20261122-0badcafe',
      workflowId: 'patch-20261122-0badcafe',
      phase: 'approval',
      state: 'waiting',
      priority: 1,
      emergency: true,
      advisoryIds: ['USN-6859-1'],
      title: 'regreSSHion',
      requestedBy: 'olga',
      startedAt: '2026-11-22T10:00:00.000Z',
      closedAt: null,
      executionStatus: 'running',
    });
  });

  it('answers null for what an older patch never set, and takes the name from an Actor memo', () => {
    const item = toListItem({
      ...base,
      status: { code: 6, name: 'CONTINUED_AS_NEW' },
      closeTime: new Date('2026-11-23T00:00:00Z'),
      memo: { requestedBy: { id: 'u_1', name: 'oscar', roles: ['operator'] } },
      typedSearchAttributes: new TypedSearchAttributes([]),
    });
    expect(item).toMatchObject({
      id: '20261122-0badcafe',
      phase: null,
      state: null,
      priority: null,
      emergency: null,
      advisoryIds: [],
      title: null,
    });
    expect(item).toMatchObject({ requestedBy: 'oscar', closedAt: '2026-11-23T00:00:00.000Z', executionStatus: 'continued-as-new' });
  });
});

describe('page tokens', () => {
  const raw = Buffer.from('{"CloseTime":"9999-12-31T23:59:59Z","RunID":"r1"}');
  const query = listQuery({ phase: 'peer-review' });

  it('carry the visibility token in base64url, for the same listing only', () => {
    const token = encodePageToken(raw, query);
    expect(token.split('.')[0]).toBe(raw.toString('base64url'));
    expect(decodePageToken(token, query)).toEqual(raw);
    expect(decodePageToken(token, listQuery({ phase: 'approval' }))).toBeUndefined();
  });

  it('refuses anything else', () => {
    const [data, sum] = encodePageToken(raw, query).split('.') as [string, string];
    for (const token of ['', 'AAAA', `${data}.`, `${data}.${'0'.repeat(16)}`, `${data}x.${sum}`, `${data}.${sum.toUpperCase()}`]) {
      expect(decodePageToken(token, query), token).toBeUndefined();
    }
  });
});
