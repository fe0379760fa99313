// Runs a k6 script's setup() and then ITERATIONS iterations of its default function, one
// after another, and prints what happened as JSON: options, checks and requests.
const [scriptPath, iterations] = process.argv.slice(2);

globalThis.__ENV = process.env;
globalThis.__checks = [];
globalThis.__requests = [];
globalThis.__iteration = 0;

const script = await import(scriptPath);
if (script.setup) {
  script.setup();
}
for (let i = 0; i < Number(iterations); i += 1) {
  globalThis.__iteration = i;
  script.default();
}
process.stdout.write(
  JSON.stringify({ options: script.options, checks: globalThis.__checks, requests: globalThis.__requests }),
);
