import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { HostRecord } from '../../src/domain/host-record';
import type { PatchStatus } from '../../src/domain/patch-status';
import { initialStatus } from '../../src/domain/patch';
import { buildReport, csvField, CSV_COLUMNS, formatDuration, renderCsv, renderMarkdown, type ReportInput } from '../../src/domain/report';

const H = 3_600_000;
const T0 = Date.parse('2026-03-02T00:00:00Z');
const iso = (hours: number) => new Date(T0 + hours * H).toISOString();
const at = (hours: number) => new Date(T0 + hours * H);

const host = (assetId: string, over: Partial<HostRecord> = {}): HostRecord => ({
  assetId,
  ring: 'production',
  wave: 0,
  status: 'installed',
  reason: null,
  attempts: 1,
  changed: true,
  previousVersions: { 'openssh-server': '1:8.9p1-3ubuntu0.6' },
  startedAt: iso(2),
  finishedAt: iso(2.5),
  ...over,
});

function status(): PatchStatus {
  const s = initialStatus({
    id: '20260302-abcdef01',
    title: 'regreSSHion',
    advisoryIds: ['USN-6859-1'],
    emergency: true,
    settings: {},
    requestedBy: { id: 'u_1', name: 'alice', roles: ['operator'] },
    requestedAt: iso(0),
  });
  return {
    ...s,
    cves: ['CVE-2024-6387'],
    priority: 1,
    priorityReasons: ['CVSS 8.1', 'internet-facing'],
    deadlines: { recommended: iso(12), maximum: iso(24) },
    phase: 'completed',
    state: 'done',
    outcome: 'completed',
    reviews: [{ reviewer: 'bob', verdict: 'approve', comment: 'looks right', at: iso(0.2), round: 1 }],
    decisions: [{ approver: 'carol', decision: 'approve', comment: 'go', at: iso(0.5) }],
    phases: [
      { phase: 'assessment', at: iso(0) },
      { phase: 'peer-review', at: iso(0.1) },
      { phase: 'approval', at: iso(0.3) },
      { phase: 'testing', at: iso(1) },
      { phase: 'rollout', at: iso(2) },
      { phase: 'postmortem', at: iso(20) },
      { phase: 'completed', at: iso(21) },
    ],
    actions: [{ action: 'retry-stragglers', by: 'alice', at: iso(6) }],
    feedback: [{ by: 'dave', assetId: 'web-1', severity: 'low', message: 'slow login | once', at: iso(3), phase: 'pilot' }],
    postmortem: {
      lessonsLearned: 'Check disk space first.',
      actions: ['add a disk check', 'alert on full disks'],
      by: 'alice',
      at: iso(20.5),
    },
  };
}

function input(over: Partial<ReportInput> = {}): ReportInput {
  return {
    status: status(),
    deployment: {
      patchId: '20260302-abcdef01',
      title: 'regreSSHion',
      priority: 1,
      emergency: true,
      openedAt: iso(0),
      deadlines: { recommended: iso(12), maximum: iso(24) },
      startedAt: iso(1),
      finishedAt: iso(20),
      outcome: 'completed',
    },
    hosts: [
      host('lab-1', { ring: 'lab', wave: null, startedAt: iso(1), finishedAt: iso(1.2) }),
      host('pilot-1', { ring: 'pilot', wave: null }),
      host('web-1', { finishedAt: iso(5) }),
      host('web-2', { status: 'failed', reason: 'disk full, "/var" at 100%', attempts: 3, changed: false, finishedAt: iso(6) }),
      host('db-1', { wave: 1, status: 'excepted', reason: 'excepted', changed: false, startedAt: null, finishedAt: null }),
      host('db-2', { wave: 1, status: 'unreachable', reason: '=HYPERLINK("x")', attempts: 2, changed: false }),
    ],
    exceptions: [{ assetId: 'db-1', compensatingControl: 'firewall rule', expiresAt: iso(100), approvedBy: 'carol', at: iso(7) }],
    deferrals: [],
    breaches: [{ assetId: 'web-2', reason: 'disk full', at: iso(24) }],
    ...over,
  };
}

describe('buildReport', () => {
  it('summarizes the patch: outcome, phases, counts, waves, failures, stragglers, SLA', () => {
    const report = buildReport(input(), at(30));
    expect(report.final).toBe(true);
    expect(report.outcome).toBe('completed');
    expect(report.patch).toMatchObject({
      id: '20260302-abcdef01',
      priority: 1,
      priorityName: 'emergency',
      cves: ['CVE-2024-6387'],
      phase: 'completed',
    });
    expect(report.phases[0]).toEqual({ phase: 'assessment', enteredAt: iso(0), leftAt: iso(0.1), durationMs: 0.1 * H });
    expect(report.phases.at(-2)).toEqual({ phase: 'postmortem', enteredAt: iso(20), leftAt: iso(21), durationMs: H });
    expect(report.phases.at(-1)).toEqual({ phase: 'completed', enteredAt: iso(21), leftAt: null, durationMs: null });
    expect(report.hosts).toBe(6);
    expect(report.counts).toMatchObject({ installed: 3, failed: 1, unreachable: 1, excepted: 1, pending: 0 });
    expect(report.waves).toEqual([
      { ring: 'lab', wave: null, hosts: 1, counts: { installed: 1 } },
      { ring: 'pilot', wave: null, hosts: 1, counts: { installed: 1 } },
      { ring: 'production', wave: 0, hosts: 2, counts: { installed: 1, failed: 1 } },
      { ring: 'production', wave: 1, hosts: 2, counts: { excepted: 1, unreachable: 1 } },
    ]);
    expect(report.failures.map((f) => [f.assetId, f.status, f.attempts])).toEqual([
      ['web-2', 'failed', 3],
      ['db-2', 'unreachable', 2],
    ]);
    expect(report.stragglers.map((s) => [s.assetId, s.sla])).toEqual([
      ['web-2', 'breached'],
      ['db-2', 'breached'],
    ]);
    expect(report.exceptions).toEqual([expect.objectContaining({ assetId: 'db-1', inForce: true })]);
    // a later, already expired exception does not take the cover of one in force away
    const more = [
      ...input().exceptions,
      { assetId: 'db-1', compensatingControl: 'old', expiresAt: iso(8), approvedBy: 'carol', at: iso(9) },
    ];
    expect(buildReport(input({ exceptions: more }), at(30)).compliance.compliant).toBe(4);
    const expired = buildReport(input({ exceptions: [{ ...more[1]! }] }), at(30));
    expect(expired.stragglers.find((s) => s.assetId === 'db-1')).toMatchObject({ reason: 'exception expired', sla: 'breached' });
    expect(report.compliance).toMatchObject({ hosts: 6, compliant: 4, nonCompliant: 2, worst: 'breached' });
    expect(report.sla).toMatchObject({ compliantAt: null, timeToPatchMs: null, met: 'missed' });
    expect(report.postmortem?.lessonsLearned).toBe('Check disk space first.');
    const types = report.timeline.map((t) => t.type);
    expect(types[0]).toBe('opened');
    expect(types).toEqual(
      expect.arrayContaining([
        'review',
        'decision',
        'rollout-action',
        'feedback',
        'exception',
        'sla-breach',
        'postmortem',
        'deployment-finished',
      ]),
    );
    expect(report.timeline.map((t) => Date.parse(t.at))).toEqual(report.timeline.map((t) => Date.parse(t.at)).sort((a, b) => a - b));
    expect(report.timeline.find((t) => t.type === 'decision')).toEqual({
      at: iso(0.5),
      type: 'decision',
      actor: 'carol',
      summary: 'approve: go',
    });
  });

  it('measures time to patch once every host is compliant', () => {
    const hosts = input().hosts.map((h) =>
      h.assetId === 'web-2' || h.assetId === 'db-2' ? { ...h, status: 'installed' as const, finishedAt: iso(8) } : h,
    );
    const report = buildReport(input({ hosts, breaches: [] }), at(30));
    expect(report.sla).toMatchObject({ compliantAt: iso(8), timeToPatchMs: 8 * H, met: 'recommended' });
    expect(report.stragglers).toEqual([]);
    const late = hosts.map((h) => (h.assetId === 'web-2' ? { ...h, finishedAt: iso(13) } : h));
    expect(buildReport(input({ hosts: late, breaches: [] }), at(30)).sla.met).toBe('maximum');
  });

  it('reports a rollout in progress and a patch whose workflow is gone', () => {
    const running = {
      ...status(),
      phase: 'rollout' as const,
      state: 'running' as const,
      outcome: null,
      phases: status().phases.slice(0, 5),
      postmortem: null,
    };
    const hosts = [
      host('web-1', { status: 'pending', startedAt: null, finishedAt: null }),
      host('web-2', { status: 'failed', reason: 'install failed' }),
    ];
    const report = buildReport(
      input({ status: running, hosts, breaches: [], deployment: { ...input().deployment, finishedAt: null, outcome: null } }),
      at(3),
    );
    expect(report.final).toBe(false);
    expect(report.phases.at(-1)).toEqual({ phase: 'rollout', enteredAt: iso(2), leftAt: null, durationMs: H });
    // a pending host is not a straggler while the rollout still runs
    expect(report.stragglers.map((s) => [s.assetId, s.sla])).toEqual([['web-2', 'on-time']]);
    expect(report.sla.met).toBeNull();

    // deployment finished, the patch is in its postmortem: not final yet
    const inPostmortem = { ...status(), phase: 'postmortem' as const, state: 'waiting' as const, outcome: null };
    expect(buildReport(input({ status: inPostmortem }), at(30))).toMatchObject({ final: false, outcome: null });

    const orphan = buildReport(input({ status: null }), at(30));
    expect(orphan.patch).toMatchObject({ title: 'regreSSHion', phase: null, advisoryIds: [], requestedBy: null });
    expect(orphan.outcome).toBe('completed');
    expect(orphan.phases).toEqual([]);
    expect(orphan.timeline.map((t) => t.type)).toEqual(['deployment-started', 'exception', 'deployment-finished', 'sla-breach']);
  });
});

describe('renderers', () => {
  it('renders Markdown with every section and escaped table cells', () => {
    const md = renderMarkdown(buildReport(input(), at(30)));
    expect(md).toMatch(/^# Patch report: regreSSHion \(20260302-abcdef01\)\n/);
    for (const section of [
      'Phases',
      'Hosts by status',
      'Waves',
      'Failures',
      'Stragglers',
      'Exceptions',
      'Deferrals',
      'SLA breaches',
      'Feedback',
      'Lessons learned',
      'Timeline',
    ]) {
      expect(md).toContain(`\n## ${section}\n`);
    }
    expect(md).toContain('- Outcome: **completed**');
    expect(md).toContain('| production wave 0 | 2 | installed 1, failed 1 |');
    expect(md).toContain('slow login \\| once');
    expect(md).toContain('- [ ] add a disk check');
    // an empty section says so
    expect(md).toMatch(/## Deferrals\n\nNone\./);
    // every table row has as many cells as its header
    for (const block of md.split('\n\n').filter((b) => b.startsWith('| '))) {
      const widths = block
        .trimEnd()
        .split('\n')
        .map((row) => row.replace(/\\\|/g, '').split('|').length);
      expect(new Set(widths).size, block).toBe(1);
    }
  });

  it('renders RFC 4180 CSV, one row per host', () => {
    const csv = renderCsv(input(), at(30));
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.split('\r\n')[0]).toBe(CSV_COLUMNS.join(','));
    const rows = parse<Record<string, string>>(csv, { columns: true });
    expect(rows).toHaveLength(6);
    expect(rows[0]).toEqual({
      asset: 'lab-1',
      ring: 'lab',
      wave: '',
      status: 'installed',
      reason: '',
      attempts: '1',
      started: iso(1),
      finished: iso(1.2),
      sla: 'on-time',
    });
    expect(rows.find((r) => r.asset === 'web-2')).toMatchObject({
      wave: '0',
      status: 'failed',
      reason: 'disk full, "/var" at 100%',
      attempts: '3',
      sla: 'breached',
    });
    expect(rows.find((r) => r.asset === 'db-2')!.reason).toBe(`'=HYPERLINK("x")`);
    expect(rows.find((r) => r.asset === 'db-1')).toMatchObject({ status: 'excepted', started: '', sla: 'on-time' });
  });

  it('quotes fields as RFC 4180 asks', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
    expect(csvField(3)).toBe('3');
    expect(csvField('-1')).toBe("'-1");
  });

  it('formats durations with their two largest units', () => {
    expect(formatDuration(750)).toBe('750ms');
    expect(formatDuration(5_000)).toBe('5s');
    expect(formatDuration(65_000)).toBe('1m 5s');
    expect(formatDuration(26 * H + 5 * 60_000)).toBe('1d 2h');
    expect(formatDuration(24 * H + 5 * 60_000)).toBe('1d');
    expect(formatDuration(10 * H)).toBe('10h');
  });
});
