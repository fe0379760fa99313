// The original experiment's scenario for k6, so its numbers can be set beside loadgen's:
// 200 virtual users for 10 s; each iteration is a new user who signs up, logs in,
// refreshes the token pair and logs out, and every response is checked.
//
//   k6 run -e TARGET=http://127.0.0.1:8000 docker/k6/auth-test.js
//   k6 run -e TARGET=http://127.0.0.1:8080 -e VUS=50 -e DURATION=30s docker/k6/auth-test.js
//
// Metric names are k6's own (http_req_duration, http_reqs, iteration_duration, checks...);
// `python -m loadgen` reports the same names, and each request is tagged step:<name> like
// loadgen's per-step breakdown.

import http from 'k6/http';
import { check, fail } from 'k6';
import exec from 'k6/execution';

const TARGET = (__ENV.TARGET || 'http://127.0.0.1:8000').replace(/\/+$/, '');
const VUS = parseInt(__ENV.VUS || '200', 10);
const DURATION = __ENV.DURATION || '10s';

export const options = {
  scenarios: {
    auth: {
      executor: 'constant-vus',
      vus: VUS,
      duration: DURATION,
      gracefulStop: '30s',
    },
  },
  thresholds: {
    // The original runs had 100 % success; any failed request or check fails the run.
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    // Loose latency bounds (the original: avg 406-490 ms, max 2.4 s): they catch a
    // broken deployment, not a slow machine.
    http_req_duration: ['p(95)<3000'],
    'http_req_duration{step:login}': ['p(95)<3000'],
    'http_req_duration{step:signup}': ['p(95)<3000'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

const JSON_HEADERS = { 'Content-Type': 'application/json' };

// One run id per k6 process, so repeated runs against the same database never reuse an
// email (signup would answer 409 email_taken).
const RUN_ID = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

const PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_.!';

function randomPassword(length) {
  // Long and random enough for the service's strength check; under bcrypt's 72 bytes.
  let out = '';
  for (let i = 0; i < length; i += 1) {
    out += PASSWORD_ALPHABET[Math.floor(Math.random() * PASSWORD_ALPHABET.length)];
  }
  return out;
}

function post(path, body, step, headers) {
  return http.post(`${TARGET}${path}`, body === null ? null : JSON.stringify(body), {
    headers: Object.assign({}, JSON_HEADERS, headers || {}),
    tags: { step, name: path },
  });
}

function json(response) {
  try {
    return response.json();
  } catch (e) {
    return null;
  }
}

function isTokenPair(body) {
  return (
    body !== null &&
    typeof body.access_token === 'string' &&
    typeof body.refresh_token === 'string' &&
    body.token_type === 'Bearer' &&
    typeof body.expires_in === 'number'
  );
}

export default function () {
  // Unique across VUs and iterations of this run.
  const email = `k6-${RUN_ID}-${exec.scenario.iterationInTest}@example.com`;
  const password = randomPassword(24);

  const signup = post('/auth/signup', { email, password }, 'signup');
  const signupBody = json(signup);
  if (
    !check(signup, {
      'signup: 201': (r) => r.status === 201,
      'signup: returns the user': () => signupBody !== null && signupBody.email !== undefined,
    })
  ) {
    return;
  }

  const login = post('/auth/login', { email, password }, 'login');
  const tokens = json(login);
  if (
    !check(login, {
      'login: 200': (r) => r.status === 200,
      'login: token pair': () => isTokenPair(tokens),
    })
  ) {
    return;
  }

  const refresh = post('/auth/refresh', { refresh_token: tokens.refresh_token }, 'refresh');
  const rotated = json(refresh);
  if (
    !check(refresh, {
      'refresh: 200': (r) => r.status === 200,
      'refresh: token pair': () => isTokenPair(rotated),
      'refresh: rotated': () => isTokenPair(rotated) && rotated.refresh_token !== tokens.refresh_token,
    })
  ) {
    return;
  }

  const logout = post('/auth/logout', { refresh_token: rotated.refresh_token }, 'logout', {
    Authorization: `Bearer ${rotated.access_token}`,
  });
  check(logout, {
    'logout: 204': (r) => r.status === 204,
  });
}

export function setup() {
  const live = http.get(`${TARGET}/health/live`, { tags: { step: 'setup' } });
  if (live.status !== 200) {
    fail(`${TARGET}/health/live answered ${live.status}; is the deployment up?`);
  }
}
