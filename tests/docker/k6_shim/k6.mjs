// Stand-in for the 'k6' module: check() records every named check, fail() throws.
export function check(value, sets) {
  let passed = true;
  for (const [name, predicate] of Object.entries(sets)) {
    const ok = Boolean(predicate(value));
    globalThis.__checks.push({ name, ok });
    passed = passed && ok;
  }
  return passed;
}

export function fail(message) {
  throw new Error(message);
}
