// Chains as text: a tree of the lineage with each step's evidence hung where it happened.
import type { ChainView, EntityView, EvidenceView, HuntResult } from './analytics.ts';

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function proc(e: EntityView | null): string {
  if (!e) return '?';
  const pid = e.properties.pid;
  return `${e.name || e.key}${pid !== undefined && pid !== null ? ` [${pid}]` : ''}`;
}

function hms(iso: string | null): string {
  return iso ? iso.slice(11, 23) : '--:--:--.---';
}

function delta(from: string, to: string | null): string {
  if (!to) return '';
  const s = (Date.parse(to) - Date.parse(from)) / 1000;
  return ` (${s >= 0 ? '+' : ''}${s.toFixed(1)} s)`;
}

const SENSORS: Record<string, string> = {
  'Microsoft-Windows-Sysmon': 'Sysmon',
  'Microsoft-Windows-Security-Auditing': 'Security',
};

function sensor(ev: EvidenceView): string {
  const p = ev.relationProperties;
  if (!p.provider) return '';
  return ` [${SENSORS[String(p.provider)] ?? String(p.provider)} ${String(p.eventCode ?? '')}]`.replace(
    ' ]',
    ']',
  );
}

function target(ev: EvidenceView): string {
  const t = ev.target;
  if (!t) return '';
  if (t.label === 'Destination') {
    const port = ev.relationProperties.dstPort;
    const protocol = ev.relationProperties.protocol;
    return `${t.name}${port ? `:${port}` : ''}${protocol ? ` ${protocol}` : ''}`;
  }
  if (t.label === 'File') {
    const motw = t.properties.motw ? ' [Mark-of-the-Web]' : '';
    return `${String(t.properties.path ?? t.name)}${motw}`;
  }
  return proc(t);
}

interface TreeNode {
  entity: EntityView;
  children: TreeNode[];
  notes: string[];
}

/** Render one chain: a header, the lineage tree with evidence, and the four steps checked off. */
export function renderChain(c: ChainView, color = false): string {
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const anchor = String(c.lolbin.properties.startTime ?? c.firstSeen);
  const verdict = c.alert ? paint('1;31', 'ALERT') : paint('33', 'partial chain');
  const lines: string[] = [];
  lines.push(
    `${paint('1', `${c.analytic}`)}  ${verdict}  score ${c.score}  steps ${c.stepsFound.join(',')}  host ${c.host}  user ${c.user ?? '?'}`,
  );
  lines.push(`  window ${c.firstSeen} → ${c.lastSeen}`);
  if (c.link === 'broker')
    lines.push(
      `  weaker link: ${c.lolbin.name}'s recorded parent is ${c.recordedParent?.name ?? 'a broker'}; linked to ${c.root.name} by user, host and time`,
    );
  if (c.suppressedBy.length) lines.push(`  suppressed by trusted updater ${c.suppressedBy.join(', ')}`);

  // The tree: root app down to the LOLBIN, then down to each egressing descendant.
  const nodes = new Map<string, TreeNode>();
  const node = (e: EntityView): TreeNode => {
    let n = nodes.get(e.key);
    if (!n) {
      n = { entity: e, children: [], notes: [] };
      nodes.set(e.key, n);
    }
    return n;
  };
  const link = (parent: EntityView, child: EntityView) => {
    const p = node(parent);
    const ch = node(child);
    if (!p.children.includes(ch) && p !== ch) p.children.push(ch);
  };
  for (let i = 1; i < c.lineage.length; i++) link(c.lineage[i - 1]!, c.lineage[i]!);
  const root = node(c.lineage[0] ?? c.root);
  node(c.root).notes.push('user-facing app (chain root)');
  const lol = node(c.lolbin);
  lol.notes.push(`[3] LOLBIN started ${hms(anchor)}`);
  for (const ev of c.steps[3]!.evidence.concat(c.suppressedEgress)) {
    for (let i = 1; i < ev.via.length; i++) link(ev.via[i - 1]!, ev.via[i]!);
  }
  const hang = (step: number, ev: EvidenceView, text: string) => {
    if (ev.process) node(ev.process).notes.push(`[${step}] ${text}`);
  };
  for (const ev of c.steps[0]!.evidence) {
    const text =
      ev.relation === 'OPENED'
        ? `${ev.what === 'opened a document or script' ? 'opened' : `${ev.what}:`} ${target(ev)}`
        : ev.relation
          ? `${ev.what} ${hms(ev.time)}`
          : ev.what;
    hang(1, ev, `${text}${sensor(ev)}`);
  }
  for (const ev of c.steps[1]!.evidence)
    hang(2, ev, `${ev.what}: ${target(ev)} ${hms(ev.time)}${sensor(ev)}`);
  for (const ev of c.steps[3]!.evidence)
    hang(
      4,
      ev,
      `${ev.relation === 'RESOLVED' ? 'DNS' : 'connected'} ${target(ev)} ${hms(ev.time)}${delta(anchor, ev.time)}${sensor(ev)}`,
    );
  for (const ev of c.suppressedEgress)
    hang(4, ev, `allow-listed (${ev.allowedBy.join(', ')}): ${target(ev)} ${hms(ev.time)}`);

  const walk = (n: TreeNode, prefix: string, last: boolean, top: boolean) => {
    const cmd = n.entity.properties.commandLine;
    const head = `${proc(n.entity)}${cmd ? `  ${clip(String(cmd).replace(/\s+/g, ' '), 90)}` : ''}`;
    lines.push(`${prefix}${top ? '' : last ? '└─ ' : '├─ '}${head}`);
    const inner = top ? `${prefix}` : `${prefix}${last ? '   ' : '│  '}`;
    for (const note of [...new Set(n.notes)])
      lines.push(`${inner}${n.children.length ? '│' : ' '}    · ${note}`);
    for (const [i, ch] of n.children.entries()) walk(ch, inner, i === n.children.length - 1, false);
  };
  walk(root, '  ', true, true);

  for (const s of c.steps) {
    const mark = s.found ? paint('32', '✔') : paint('2', '✘');
    lines.push(`  ${mark} step ${s.step}: ${s.name}${s.found ? ` (${s.evidence.length} evidence)` : ''}`);
  }
  return lines.join('\n');
}

export function renderHunt(r: HuntResult, color = false): string {
  const alerts = r.chains.filter((c) => c.alert).length;
  const head = `${r.analytic.id} ${r.analytic.name}: ${r.chains.length} chain(s), ${alerts} alert(s) in ${r.millis} ms`;
  return [head, ...r.chains.map((c) => renderChain(c, color))].join('\n\n');
}
