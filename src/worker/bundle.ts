import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

/**
 * The workflow code's entry point: src/workflows/index.ts when running from source (tests), its
 * compiled twin in dist/ otherwise.
 */
export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', `index${path.extname(__filename)}`);

/** Where `npm run build` leaves the prebuilt workflow bundle (dist/workflow-bundle.js). */
export const DEFAULT_BUNDLE_PATH = path.resolve(__dirname, '..', 'workflow-bundle.js');

/** Bundles the workflows once (webpack, a few seconds) so workers start without doing it. */
export async function writeWorkflowBundle(outFile: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, code);
  return outFile;
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };

if (require.main === module) {
  const out = process.argv[2] ?? DEFAULT_BUNDLE_PATH;
  writeWorkflowBundle(out).then(
    (file) => console.log(`workflow bundle written to ${path.relative(process.cwd(), file)}`),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
