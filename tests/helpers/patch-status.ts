/** Reading a patch's status through the API, and waiting for it to reach a state. */
import type { TestStack } from './servers';

export interface PatchStatusReader {
  status(id: string): Promise<any>;
  /** Polls every 100 ms for 15 s until `accept` holds, and answers that status. */
  until(id: string, accept: (status: any) => boolean, what?: string): Promise<any>;
}

/** `stack` is read when called, so a suite may create it in `beforeAll`. */
export function patchStatusReader(stack: () => TestStack, token: () => string): PatchStatusReader {
  const status = async (id: string) => (await stack().call('GET', `/v1/patches/${id}`, { token: token() })).body;
  return {
    status,
    async until(id, accept, what = 'the expected state') {
      let last: any;
      for (let i = 0; i < 150; i++) {
        last = await status(id);
        if (accept(last)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`patch ${id} never reached ${what}; last status: ${JSON.stringify(last)}`);
    },
  };
}
