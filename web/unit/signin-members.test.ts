import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorKey, providerStartUrl } from '../src/pages/signin/members.ts';
import { signinStrings } from '../src/pages/signin/strings.ts';

test('callback error codes map to strings that exist in both languages', () => {
  for (const code of ['oidc_state', 'oidc_failed', 'oidc_denied', 'provider_unavailable', 'unknown_provider', 'server_error']) {
    const key = errorKey(code);
    assert.equal(key, `err_${code}`);
    assert.ok(signinStrings.en[key].length > 0);
    assert.ok(signinStrings.ko[key].length > 0);
  }
  assert.equal(errorKey('<script>'), 'err_other');
  assert.equal(errorKey(''), 'err_other');
  assert.equal(errorKey('toString'), 'err_other');
});

test('provider start URLs carry next encoded', () => {
  assert.equal(providerStartUrl('google', null), '/console/oidc/google/start');
  assert.equal(providerStartUrl('google', '/apps/app-1?x=1'), '/console/oidc/google/start?next=%2Fapps%2Fapp-1%3Fx%3D1');
  assert.equal(providerStartUrl('a/b', null), '/console/oidc/a%2Fb/start');
});
