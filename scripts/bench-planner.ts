/**
 * npm run bench:planner — the wave planner on generated fleets: how close the number of waves
 * comes to the lower bound the constraints allow (wave size; each cluster over its per-wave
 * cap), and how long planning takes. Fleets of 100 to 10,000 hosts, 30–70 % of them in clusters
 * of 2–12, wave sizes from 5 % to 25 % of the fleet, 1–3 members of a cluster per wave.
 */
import { planWaves, wavesLowerBound, type PlanTarget } from '../src/domain/planner';

let seed = 7;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;

function fleet(size: number): PlanTarget[] {
  const clustered = 0.3 + random() * 0.4;
  const hosts: PlanTarget[] = [];
  let group = 0;
  while (hosts.length < size) {
    const members = random() < clustered ? 2 + Math.floor(random() * 11) : 1;
    const name = members > 1 ? `cluster-${group++}` : null;
    for (let m = 0; m < members && hosts.length < size; m++) {
      hosts.push({
        id: `host-${hosts.length}`,
        criticality: pick(['low', 'medium', 'high', 'critical'] as const),
        exposure: pick(['internet', 'internal', 'isolated'] as const),
        redundancyGroup: name,
      });
    }
  }
  return hosts;
}

const ratios: number[] = [];
let worst = { ratio: 0, waves: 0, bound: 0, size: 0 };
let planned = 0;
let ms = 0;
for (const size of [100, 500, 1000, 5000, 10000]) {
  for (let run = 0; run < 40; run++) {
    const targets = fleet(size);
    const options = {
      strategy: pick(['least-critical-first', 'risk-first'] as const),
      waveSize: Math.max(1, Math.round(size * (0.05 + random() * 0.2))),
      maxPerGroupPerWave: 1 + Math.floor(random() * 3),
    };
    const t = performance.now();
    const waves = planWaves(targets, options).length;
    ms += performance.now() - t;
    planned += size;
    const bound = wavesLowerBound(targets, options);
    const ratio = waves / bound;
    ratios.push(ratio);
    if (ratio > worst.ratio) worst = { ratio, waves, bound, size };
  }
}
ratios.sort((a, b) => a - b);
const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
console.log(
  `planner: ${ratios.length} fleets (100–10,000 hosts), waves / lower bound: mean ${mean.toFixed(3)}, ` +
    `median ${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)}, max ${worst.ratio.toFixed(3)} (${worst.waves} waves against ${worst.bound}, ${worst.size} hosts); ` +
    `at the bound in ${ratios.filter((r) => r === 1).length} of ${ratios.length}`,
);
console.log(`planning speed: ${Math.round(planned / (ms / 1000))} hosts/s`);
