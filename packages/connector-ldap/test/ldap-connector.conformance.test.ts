import { afterAll, beforeAll } from '@jest/globals';
import { runConnectorConformance } from '@meridian/connector-sdk/testing';
import { ldapConnectorFactory } from '../src/index.js';
import { addContainer, BASE_DN, policyAddress, ROOT_DN, ROOT_PASSWORD, type Slapd, startSlapd, testContext } from './slapd.js';

let slapd: Slapd;
let users: string;
let groups: string;

beforeAll(async () => {
  slapd = await startSlapd();
  users = await addContainer(slapd, 'people');
  groups = await addContainer(slapd, 'groups');
});

afterAll(async () => {
  await slapd?.stop();
});

const factory = ldapConnectorFactory({ connectAddress: policyAddress('127.0.0.1') });

runConnectorConformance('ldap', () => {
  const secrets = { bindPassword: ROOT_PASSWORD };
  const config = factory.validateConfig(
    {
      url: slapd.url,
      bindDn: ROOT_DN,
      baseDn: BASE_DN,
      users: { base: users, disable: { attribute: 'employeeType', value: 'disabled' } },
      groups: { base: groups },
    },
    secrets,
  );
  return factory.create(config, secrets, testContext());
});
