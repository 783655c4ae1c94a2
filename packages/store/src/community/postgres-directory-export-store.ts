import type {
  Clock,
  DirectoryExport,
  DirectoryExportCounts,
  DirectoryExportStore,
  ExportOutcome,
  ExportWork,
  RequestContext,
} from '@meridian/core';
import { MeridianError } from '@meridian/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { recordEvent } from '../events/event-recorder.js';
import { pgArray } from '../orm/sql.js';
import { asPlatform, inCommunity } from '../orm/unit-of-work.js';
import { EXPORT_SELECT, type ExportRow, PERSON_SELECT, type PersonRow, toExport, toPerson } from './directory-rows.js';

/**
 * Pushes of a community's global directory to external directories, in
 * PostgreSQL (ADR 0015): the exports and, per export and person, the link the
 * exporter leases, pushes and records. Reads run in a transaction of the
 * community; writes and the exporter's work run as platform work.
 */
export class PostgresDirectoryExportStore implements DirectoryExportStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  async createExport(
    communityId: string,
    values: { name: string; kind: string; config: Record<string, unknown>; secretNames: string[]; sealedSecrets: string | null },
    context: RequestContext,
  ): Promise<DirectoryExport> {
    const now = this.clock.now();
    return asPlatform(this.orm, async (em) => {
      const [existing] = await em.execute<{ id: string }[]>('select id from directory_export where community_id = ? and name = ?', [
        communityId,
        values.name,
      ]);
      if (existing) throw new MeridianError('UNIQUENESS', `The community already has an export named '${values.name}'.`, { field: 'name' });
      const id = uuidv7();
      await em.execute(
        `insert into directory_export (id, community_id, name, kind, config, secret_names, sealed_secrets, enabled, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?::text[], ?, true, ?, ?)`,
        [
          id,
          communityId,
          values.name,
          values.kind,
          JSON.stringify(values.config),
          pgArray(values.secretNames),
          values.sealedSecrets,
          now,
          now,
        ],
      );
      // Every person goes out once: the initial load.
      await em.execute(
        `insert into directory_export_link (export_id, person_id, community_id, status, wanted_version, not_before, updated_at)
         select ?, p.id, p.community_id, 'pending', p.version, ?, ? from person p where p.community_id = ?`,
        [id, now, now, communityId],
      );
      await recordEvent(
        em,
        {
          type: 'directory.export_created',
          tenantId: null,
          resourceType: 'DirectoryExport',
          resourceId: id,
          after: { communityId, name: values.name, kind: values.kind, config: values.config, secretNames: values.secretNames },
        },
        context,
        now,
      );
      const [row] = await em.execute<ExportRow[]>(`select ${EXPORT_SELECT} from directory_export where id = ?`, [id]);
      return toExport(row as ExportRow);
    });
  }

  listExports(communityId: string): Promise<DirectoryExport[]> {
    return inCommunity(this.orm, communityId, async (em) =>
      (
        await em.execute<ExportRow[]>(`select ${EXPORT_SELECT} from directory_export where community_id = ? order by name`, [communityId])
      ).map(toExport),
    );
  }

  async findExport(communityId: string, idOrName: string): Promise<DirectoryExport | undefined> {
    const [row] = await inCommunity(this.orm, communityId, (em) =>
      em.execute<ExportRow[]>(`select ${EXPORT_SELECT} from directory_export where community_id = ? and (name = ? or id::text = ?)`, [
        communityId,
        idOrName,
        idOrName,
      ]),
    );
    return row ? toExport(row) : undefined;
  }

  async deleteExport(communityId: string, exportId: string, context: RequestContext): Promise<void> {
    const now = this.clock.now();
    await asPlatform(this.orm, async (em) => {
      const [row] = await em.execute<ExportRow[]>(`select ${EXPORT_SELECT} from directory_export where community_id = ? and id = ?`, [
        communityId,
        exportId,
      ]);
      if (!row) throw new MeridianError('NOT_FOUND', `Export '${exportId}' not found.`, { field: 'export' });
      await em.execute('delete from directory_export where id = ?', [exportId]);
      await recordEvent(
        em,
        {
          type: 'directory.export_deleted',
          tenantId: null,
          resourceType: 'DirectoryExport',
          resourceId: exportId,
          before: { name: row.name, kind: row.kind },
        },
        context,
        now,
      );
    });
  }

  exportCounts(communityId: string): Promise<DirectoryExportCounts[]> {
    return inCommunity(this.orm, communityId, async (em) => {
      const rows = await em.execute<{ id: string; name: string; status: string | null; n: string }[]>(
        `select e.id, e.name, l.status, count(l.person_id) as n from directory_export e
         left join directory_export_link l on l.export_id = e.id
         where e.community_id = ? group by e.id, e.name, l.status order by e.name`,
        [communityId],
      );
      const counts = new Map<string, DirectoryExportCounts>();
      for (const row of rows) {
        const entry = counts.get(row.id) ?? { exportId: row.id, name: row.name, pending: 0, synced: 0, deleted: 0, failed: 0 };
        if (row.status === 'pending' || row.status === 'synced' || row.status === 'deleted' || row.status === 'failed') {
          entry[row.status] = Number(row.n);
        }
        counts.set(row.id, entry);
      }
      return [...counts.values()];
    });
  }

  async exportForPush(exportId: string): Promise<{ export: DirectoryExport; sealedSecrets: string | null } | undefined> {
    const [row] = await asPlatform(this.orm, (em) =>
      em.execute<(ExportRow & { sealed_secrets: string | null })[]>(
        `select ${EXPORT_SELECT}, sealed_secrets from directory_export where id = ?`,
        [exportId],
      ),
    );
    return row ? { export: toExport(row), sealedSecrets: row.sealed_secrets } : undefined;
  }

  claimExportWork(limit: number, now: Date, leaseMs: number): Promise<ExportWork[]> {
    return asPlatform(this.orm, async (em) => {
      const links = await em.execute<
        {
          export_id: string;
          person_id: string;
          community_id: string;
          remote_id: string | null;
          pushed_hash: string | null;
          attempts: number;
        }[]
      >(
        `update directory_export_link l set not_before = ? from (
           select export_id, person_id from directory_export_link where status = 'pending' and not_before <= ?
           order by not_before limit ? for update skip locked) due
         where l.export_id = due.export_id and l.person_id = due.person_id
         returning l.export_id, l.person_id, l.community_id, l.remote_id, l.pushed_hash, l.attempts`,
        [new Date(now.getTime() + leaseMs), now, limit],
      );
      if (links.length === 0) return [];
      const people = new Map(
        (
          await em.execute<PersonRow[]>(`select ${PERSON_SELECT} from person p where p.id = any(?::uuid[])`, [
            pgArray([...new Set(links.map((l) => l.person_id))]),
          ])
        ).map((row) => [row.id, toPerson(row)]),
      );
      return links.map((l) => ({
        exportId: l.export_id,
        communityId: l.community_id,
        personId: l.person_id,
        remoteId: l.remote_id,
        pushedHash: l.pushed_hash,
        attempts: l.attempts,
        person: people.get(l.person_id),
      }));
    });
  }

  async recordExport(exportId: string, personId: string, outcome: ExportOutcome, now: Date): Promise<void> {
    await asPlatform(this.orm, async (em) => {
      if (outcome.status === 'retry') {
        await em.execute(
          `update directory_export_link set attempts = attempts + 1, last_error = ?, not_before = ?, updated_at = ?
           where export_id = ? and person_id = ?`,
          [outcome.lastError, outcome.notBefore ?? now, now, exportId, personId],
        );
        return;
      }
      // A person changed while it was being pushed stays pending: its newer version goes out next.
      await em.execute(
        `update directory_export_link set
           status = case when ? = 'synced' and wanted_version > coalesce(?::integer, 0) then 'pending' else ? end,
           not_before = ?, remote_id = ?, pushed_hash = ?, pushed_version = ?, last_error = ?, updated_at = ?,
           attempts = case when ? = 'failed' then attempts + 1 else 0 end
         where export_id = ? and person_id = ?`,
        [
          outcome.status,
          outcome.pushedVersion,
          outcome.status,
          now,
          outcome.remoteId,
          outcome.pushedHash,
          outcome.pushedVersion,
          outcome.lastError,
          now,
          outcome.status,
          exportId,
          personId,
        ],
      );
    });
  }
}
