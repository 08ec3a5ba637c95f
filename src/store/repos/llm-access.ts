/** Model-access requests and the keys issued for them (llm_access_requests, llm_access_tokens). Signing is ModelAccess's. */
import type { Db } from '../db.js';
import type { LlmAccessRepository } from '../repositories.js';
import type { AccessApproval, AccessRequest, AccessToken } from '../types.js';

export type { AccessApproval, AccessRequest, AccessToken } from '../types.js';

export class LlmAccessRepo implements LlmAccessRepository {
  private readonly insertRequestStmt;
  private readonly listRequestsStmt;
  private readonly getRequestStmt;
  private readonly insertTokenStmt;
  private readonly approveStmt;
  private readonly denyStmt;
  private readonly listTokensStmt;
  private readonly revokeStmt;
  private readonly revokedStmt;
  private readonly approveTx;

  constructor(db: Db) {
    this.insertRequestStmt = db.prepare(
      'INSERT INTO llm_access_requests (id, model_id, cave_namespace, requested_by, status, created_at) VALUES (@id, @model_id, @cave_namespace, @requested_by, @status, @created_at)',
    );
    this.listRequestsStmt = db.prepare('SELECT * FROM llm_access_requests ORDER BY created_at, id');
    this.getRequestStmt = db.prepare('SELECT * FROM llm_access_requests WHERE id = ?');
    this.insertTokenStmt = db.prepare(
      'INSERT INTO llm_access_tokens (jti, request_id, model_id, cave_ns, scopes, rpm, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.approveStmt = db.prepare("UPDATE llm_access_requests SET status = 'approved', decided_at = ?, decided_by = ?, token_id = ? WHERE id = ?");
    this.denyStmt = db.prepare("UPDATE llm_access_requests SET status = 'denied', decided_at = ?, decided_by = ? WHERE id = ?");
    this.listTokensStmt = db.prepare('SELECT jti, model_id, cave_ns, scopes, rpm, expires_at, revoked_at, created_at FROM llm_access_tokens ORDER BY created_at');
    this.revokeStmt = db.prepare('UPDATE llm_access_tokens SET revoked_at = ? WHERE jti = ? AND model_id = ?');
    this.revokedStmt = db.prepare('SELECT jti FROM llm_access_tokens WHERE revoked_at IS NOT NULL');
    this.approveTx = db.transaction((a: AccessApproval) => {
      this.insertTokenStmt.run(a.jti, a.requestId, a.modelId, a.namespace, JSON.stringify(a.scopes), a.rpm, a.expiresAt, a.at);
      this.approveStmt.run(a.at, a.decidedBy, a.jti, a.requestId);
    });
  }

  insertRequest(r: AccessRequest): void {
    this.insertRequestStmt.run(r);
  }

  listRequests(): AccessRequest[] {
    return this.listRequestsStmt.all() as AccessRequest[];
  }

  getRequest(id: string): AccessRequest | null {
    return (this.getRequestStmt.get(id) as AccessRequest | undefined) ?? null;
  }

  approve(a: AccessApproval): void {
    this.approveTx(a);
  }

  deny(id: string, by: string, at: string): void {
    this.denyStmt.run(at, by, id);
  }

  listTokens(): AccessToken[] {
    return (this.listTokensStmt.all() as (Omit<AccessToken, 'scopes'> & { scopes: string })[]).map((r) => ({ ...r, scopes: JSON.parse(r.scopes) as string[] }));
  }

  revokeToken(modelId: string, jti: string, at: string): boolean {
    return this.revokeStmt.run(at, jti, modelId).changes > 0;
  }

  revokedTokenIds(): string[] {
    return (this.revokedStmt.all() as { jti: string }[]).map((r) => r.jti);
  }
}
