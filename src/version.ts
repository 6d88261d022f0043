import fs from 'node:fs';
import path from 'node:path';

/** patchflow's version, from package.json (one level above both src/ and dist/). */
export const VERSION: string = (JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'package.json'), 'utf8')) as { version: string })
  .version;
