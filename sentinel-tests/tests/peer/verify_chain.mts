// The real sidecar's own chain verifier over a file of records, for the agreement test
// (sentinel-tests/tests/live_chain_agreement.rs) and the verifier benchmark
// (sentinel-benches/benches/verify_chain.rs).
//
//   SIDECAR_APP=<installed sidecar> node $SIDECAR_APP/node_modules/.bin/tsx verify_chain.mts \
//       FILE KEY_ID [whole|paged]
//
// FILE holds JSON Lines (one record per line). `whole` (the default) reads every record and
// calls `verifyChain(records, [KEY_ID])`; `paged` streams pages of 1000 records into
// `verifyChainPaged`, as the sidecar's GET /v1/verify does. Prints one JSON line:
// {"ok":…,"brokenAt":…,"reason":…,"records":N,"ms":…}. A line that is not JSON is reported
// as {"ok":false,"parseError":index}.
//
// `corpus`: each line of FILE is a case, {"name", "lines": [record text…], "checkpoint"?:
// {"seq","contentHash"}}; each record text is read with JSON.parse (as the sidecar reads a
// request) and the case's records go to `verifyChain`. verifyChain knows no checkpoint: when
// a case has one and verifyChain accepts, the record at the checkpoint's seq must exist and
// have its contentHash, else {"ok":false,"brokenAt":<records>,"reason":"checkpoint not
// reached"} (what any caller comparing the sidecar's verdict with a checkpoint does). Prints
// one JSON line per case: {"name", "ok", "brokenAt", "reason", "parseError"}.
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const [file, keyId, mode = 'whole'] = process.argv.slice(2);
const app = process.env.SIDECAR_APP;
if (!file || !keyId || !app) {
  console.error('usage: SIDECAR_APP=<dir> verify_chain.mts FILE KEY_ID [whole|paged]');
  process.exit(2);
}
const { verifyChain, verifyChainPaged } = await import(pathToFileURL(`${app}/src/provenance/record.ts`).href);

const started = performance.now();
let result: { ok: boolean; brokenAt?: number; reason?: string; parseError?: number };
let count = 0;
function verifyCase(lines: string[], checkpoint?: { seq: number; contentHash: string }) {
  const records: any[] = [];
  for (const [index, line] of lines.entries()) {
    try {
      records.push(JSON.parse(line));
    } catch {
      return { ok: false, parseError: index };
    }
  }
  const result = verifyChain(records, [keyId]);
  if (result.ok && checkpoint && records[checkpoint.seq]?.contentHash !== checkpoint.contentHash) {
    return { ok: false, brokenAt: records.length, reason: 'checkpoint not reached' };
  }
  return result;
}

if (mode === 'corpus') {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const c = JSON.parse(line);
    console.log(JSON.stringify({ name: c.name, ...verifyCase(c.lines, c.checkpoint) }));
  }
  process.exit(0);
}

if (mode === 'paged') {
  async function* pages() {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    let page: unknown[] = [];
    for await (const line of lines) {
      if (line.trim() === '') continue;
      page.push(JSON.parse(line));
      count++;
      if (page.length === 1000) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }
  result = await verifyChainPaged(pages(), [keyId]);
} else {
  const records: unknown[] = [];
  const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '');
  let parseError: number | undefined;
  for (const [index, line] of lines.entries()) {
    try {
      records.push(JSON.parse(line));
    } catch {
      parseError = index;
      break;
    }
  }
  count = records.length;
  result = parseError === undefined ? verifyChain(records, [keyId]) : { ok: false, parseError };
}
console.log(JSON.stringify({ ...result, records: count, ms: Math.round(performance.now() - started) }));
