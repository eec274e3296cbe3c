// Parse Mermaid diagrams with Mermaid's own parser (in jsdom: Mermaid needs a DOM to load).
// stdin: a JSON list of diagram texts; stdout: a JSON list of {ok, type, error}, one per diagram.
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });

let input = '';
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(text);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (error) {
    results.push({ ok: false, error: String(error.message || error) });
  }
}
process.stdout.write(JSON.stringify(results));
