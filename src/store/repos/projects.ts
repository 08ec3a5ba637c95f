/** Projects and namespaces: named groupings, created on first use ("ensure by name"). */
import { BkgError } from '../../api/errors.js';
import type { Db } from '../db.js';
import { namedId } from '../ids.js';
import type { NamespaceRepository, ProjectRepository } from '../repositories.js';
import { constraintKind } from '../sqlite-errors.js';
import type { Namespace, Project } from '../types.js';

export type { Namespace, Project } from '../types.js';

interface ProjectRow {
  id: string;
  name: string;
  created_at: string;
}

interface NamespaceRow {
  id: string;
  name: string;
  project_id: string | null;
  created_at: string;
}

const toProject = (r: ProjectRow): Project => ({ id: r.id, name: r.name, createdAt: r.created_at });
const toNamespace = (r: NamespaceRow): Namespace => ({ id: r.id, name: r.name, projectId: r.project_id, createdAt: r.created_at });

function requireName(kind: string, name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new BkgError('INVALID_ARGUMENT', `${kind} name must be a non-empty string`);
}

export class ProjectRepo implements ProjectRepository {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly getByNameStmt;
  private readonly listStmt;

  constructor(db: Db, private readonly now: () => Date = () => new Date()) {
    this.insertStmt = db.prepare('INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING');
    this.getStmt = db.prepare('SELECT * FROM projects WHERE id = ?');
    this.getByNameStmt = db.prepare('SELECT * FROM projects WHERE name = ?');
    this.listStmt = db.prepare('SELECT * FROM projects ORDER BY name');
  }

  /** The project with this name, created if absent. Safe against concurrent creators. */
  ensure(name: string): Project {
    requireName('project', name);
    this.insertStmt.run(namedId('prj', name), name, this.now().toISOString());
    const p = this.getByName(name);
    if (!p) throw new BkgError('INTERNAL', `project "${name}" vanished right after it was ensured`);
    return p;
  }

  get(id: string): Project | null {
    const r = this.getStmt.get(id) as ProjectRow | undefined;
    return r ? toProject(r) : null;
  }

  getByName(name: string): Project | null {
    const r = this.getByNameStmt.get(name) as ProjectRow | undefined;
    return r ? toProject(r) : null;
  }

  list(): Project[] {
    return (this.listStmt.all() as ProjectRow[]).map(toProject);
  }
}

export class NamespaceRepo implements NamespaceRepository {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly getByNameStmt;
  private readonly listStmt;
  private readonly listByProjectStmt;

  constructor(db: Db, private readonly now: () => Date = () => new Date()) {
    this.insertStmt = db.prepare('INSERT INTO namespaces (id, name, project_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING');
    this.getStmt = db.prepare('SELECT * FROM namespaces WHERE id = ?');
    this.getByNameStmt = db.prepare('SELECT * FROM namespaces WHERE name = ?');
    this.listStmt = db.prepare('SELECT * FROM namespaces ORDER BY name');
    this.listByProjectStmt = db.prepare('SELECT * FROM namespaces WHERE project_id = ? ORDER BY name');
  }

  /**
   * The namespace with this name, created (in `projectId`, if given) when absent. An existing
   * namespace is returned as it is: ensure never moves a namespace to another project.
   */
  ensure(name: string, projectId: string | null = null): Namespace {
    requireName('namespace', name);
    try {
      this.insertStmt.run(namedId('ns', name), name, projectId, this.now().toISOString());
    } catch (err) {
      if (constraintKind(err) === 'foreignkey') throw new BkgError('NOT_FOUND', `project ${projectId} does not exist`, { details: { projectId } });
      throw err;
    }
    const ns = this.getByName(name);
    if (!ns) throw new BkgError('INTERNAL', `namespace "${name}" vanished right after it was ensured`);
    return ns;
  }

  get(id: string): Namespace | null {
    const r = this.getStmt.get(id) as NamespaceRow | undefined;
    return r ? toNamespace(r) : null;
  }

  getByName(name: string): Namespace | null {
    const r = this.getByNameStmt.get(name) as NamespaceRow | undefined;
    return r ? toNamespace(r) : null;
  }

  list(projectId?: string): Namespace[] {
    const rows = projectId === undefined ? this.listStmt.all() : this.listByProjectStmt.all(projectId);
    return (rows as NamespaceRow[]).map(toNamespace);
  }
}
