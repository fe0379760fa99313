// Stand-in for k6's 'k6/http' module: the same synchronous calls, each one made by a
// short-lived Python process (node has no synchronous HTTP client of its own).
import { execFileSync } from 'node:child_process';

function request(method, url, body, params) {
  const reply = execFileSync(process.env.K6_SHIM_PYTHON, [process.env.K6_SHIM_CLIENT], {
    input: JSON.stringify({ method, url, body, headers: (params && params.headers) || {} }),
  });
  const { status, text } = JSON.parse(reply.toString());
  globalThis.__requests.push({ method, url, status, tags: (params && params.tags) || {} });
  return {
    status,
    body: text,
    json() {
      return JSON.parse(text);
    },
  };
}

export default {
  get: (url, params) => request('GET', url, null, params),
  post: (url, body, params) => request('POST', url, body, params),
};
