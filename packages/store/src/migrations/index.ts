import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261126000000_initial } from './Migration20261126000000_initial.js';
import { Migration20261126100000_search_indexes } from './Migration20261126100000_search_indexes.js';
import { Migration20261126200000_tenant_schema } from './Migration20261126200000_tenant_schema.js';
import { Migration20261126300000_row_level_security } from './Migration20261126300000_row_level_security.js';
import { Migration20261126310000_trusted_issuers } from './Migration20261126310000_trusted_issuers.js';
import { Migration20261126320000_audit_checkpoints } from './Migration20261126320000_audit_checkpoints.js';
import { Migration20261126400000_replication } from './Migration20261126400000_replication.js';
import { Migration20261126500000_search_keys } from './Migration20261126500000_search_keys.js';
import { Migration20261126600000_email_search } from './Migration20261126600000_email_search.js';
import { Migration20261126700000_global_directory } from './Migration20261126700000_global_directory.js';
import { Migration20261126710000_directory_exports } from './Migration20261126710000_directory_exports.js';
import { Migration20261126720000_directory_manager_key } from './Migration20261126720000_directory_manager_key.js';
import { Migration20261207100000_group_graph_integrity } from './Migration20261207100000_group_graph_integrity.js';
import { Migration20261207200000_community_scoped_names } from './Migration20261207200000_community_scoped_names.js';
import { Migration20261207400000_wait_policy_limit } from './Migration20261207400000_wait_policy_limit.js';
import { Migration20261207500000_request_id_on_deliveries } from './Migration20261207500000_request_id_on_deliveries.js';
import { Migration20261207610000_directory_batch_projection } from './Migration20261207610000_directory_batch_projection.js';
import { Migration20261207610100_directory_people_count } from './Migration20261207610100_directory_people_count.js';
import { Migration20261207600000_relying_parties } from './Migration20261207600000_relying_parties.js';
import { Migration20261207630000_scim_read_functions } from './Migration20261207630000_scim_read_functions.js';
import { Migration20261207640000_audit_append_function } from './Migration20261207640000_audit_append_function.js';

/** The committed migrations, in order. Add new ones at the end. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261126000000_initial', class: Migration20261126000000_initial },
  { name: 'Migration20261126100000_search_indexes', class: Migration20261126100000_search_indexes },
  { name: 'Migration20261126200000_tenant_schema', class: Migration20261126200000_tenant_schema },
  { name: 'Migration20261126300000_row_level_security', class: Migration20261126300000_row_level_security },
  { name: 'Migration20261126310000_trusted_issuers', class: Migration20261126310000_trusted_issuers },
  { name: 'Migration20261126320000_audit_checkpoints', class: Migration20261126320000_audit_checkpoints },
  { name: 'Migration20261126400000_replication', class: Migration20261126400000_replication },
  { name: 'Migration20261126500000_search_keys', class: Migration20261126500000_search_keys },
  { name: 'Migration20261126600000_email_search', class: Migration20261126600000_email_search },
  { name: 'Migration20261126700000_global_directory', class: Migration20261126700000_global_directory },
  { name: 'Migration20261126710000_directory_exports', class: Migration20261126710000_directory_exports },
  { name: 'Migration20261126720000_directory_manager_key', class: Migration20261126720000_directory_manager_key },
  { name: 'Migration20261207100000_group_graph_integrity', class: Migration20261207100000_group_graph_integrity },
  { name: 'Migration20261207200000_community_scoped_names', class: Migration20261207200000_community_scoped_names },
  { name: 'Migration20261207400000_wait_policy_limit', class: Migration20261207400000_wait_policy_limit },
  { name: 'Migration20261207500000_request_id_on_deliveries', class: Migration20261207500000_request_id_on_deliveries },
  { name: 'Migration20261207610000_directory_batch_projection', class: Migration20261207610000_directory_batch_projection },
  { name: 'Migration20261207610100_directory_people_count', class: Migration20261207610100_directory_people_count },
  { name: 'Migration20261207600000_relying_parties', class: Migration20261207600000_relying_parties },
  { name: 'Migration20261207630000_scim_read_functions', class: Migration20261207630000_scim_read_functions },
  { name: 'Migration20261207640000_audit_append_function', class: Migration20261207640000_audit_append_function },
];
