import { randomUUID } from 'node:crypto';
import { OWNERSHIP_TRANSFER_SCHEMA } from '@meridian/core';
import { scimErrorBody } from '@meridian/scim';
import { type FakeScimAnswer, type FakeScimExtensionRequest, FakeScimTarget, type FakeScimTargetOptions } from './fake-scim-target.js';

/** A file at the fake cloud and the remote user who owns it. */
export interface FakeFile {
  id: string;
  name: string;
  /** The owner's SCIM id at the cloud. */
  owner: string;
}

/**
 * A downstream cloud that owns files per user, for offboarding tests (issue
 * 19): a {@link FakeScimTarget} (Users, Groups, faults, recorded requests)
 * that also serves Meridian's `POST /OwnershipTransfers` extension, moving
 * every file of `from` to `to`. A repeat moves nothing; an unknown user is 404.
 *
 * @example
 * const cloud = await FakeFileCloud.start();
 * cloud.addFile(remoteId, 'plan.xlsx');
 * // ... offboard the user ...
 * cloud.filesOf(successorRemoteId) // [{ name: 'plan.xlsx', ... }]
 */
export class FakeFileCloud {
  readonly files = new Map<string, FakeFile>();
  /** The SCIM side: point a `scim` target with `transferOwnership: true` at `target.url` with `target.token`. */
  target!: FakeScimTarget;

  private constructor() {}

  /** Starts a cloud on 127.0.0.1 on a free port. */
  static async start(options: Omit<FakeScimTargetOptions, 'extension'> = {}): Promise<FakeFileCloud> {
    const cloud = new FakeFileCloud();
    cloud.target = await FakeScimTarget.start({ ...options, extension: (request) => cloud.#serve(request) });
    return cloud;
  }

  /** Gives a user (by their id at the cloud) a file. */
  addFile(owner: string, name: string): FakeFile {
    const file = { id: randomUUID(), name, owner };
    this.files.set(file.id, file);
    return file;
  }

  /** The files a user owns, by name. */
  filesOf(owner: string): FakeFile[] {
    return [...this.files.values()].filter((f) => f.owner === owner).sort((a, b) => a.name.localeCompare(b.name));
  }

  close(): Promise<void> {
    return this.target.close();
  }

  #serve(request: FakeScimExtensionRequest): FakeScimAnswer | undefined {
    if (request.path !== '/OwnershipTransfers') return undefined;
    if (request.method !== 'POST')
      return { status: 405, body: scimErrorBody(405, `${request.method} is not allowed on /OwnershipTransfers.`) };
    const body = request.body as { schemas?: unknown; from?: unknown; to?: unknown } | undefined;
    if (
      !Array.isArray(body?.schemas) ||
      !body.schemas.includes(OWNERSHIP_TRANSFER_SCHEMA) ||
      typeof body.from !== 'string' ||
      typeof body.to !== 'string'
    ) {
      return {
        status: 400,
        body: scimErrorBody(400, `The body needs schemas [${OWNERSHIP_TRANSFER_SCHEMA}], 'from' and 'to'.`, 'invalidSyntax'),
      };
    }
    const users = new Set(this.target.users.map((u) => u.id));
    for (const id of [body.from, body.to]) {
      if (!users.has(id)) return { status: 404, body: scimErrorBody(404, `User ${id} not found.`) };
    }
    let transferred = 0;
    for (const file of this.files.values()) {
      if (file.owner !== body.from) continue;
      file.owner = body.to;
      transferred += 1;
    }
    return { status: 200, body: { schemas: [OWNERSHIP_TRANSFER_SCHEMA], from: body.from, to: body.to, transferred } };
  }
}
