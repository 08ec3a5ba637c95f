/**
 * The client's view of the wire contract: for each route of src/api/routes.ts, what a request
 * carries (path parameters, query, body) and what a successful answer holds, as TypeScript types
 * derived from its zod schemas. Types only: nothing here loads zod at run time.
 */
import type { z } from 'zod/v4';
import type { RouteId } from '../api/paths.js';
import type { ROUTES } from '../api/routes.js';

type Spec<K extends RouteId> = (typeof ROUTES)[K];
type In<S> = S extends z.ZodType ? z.input<S> : never;

type ParamsPart<K extends RouteId> = Spec<K> extends { params: infer P } ? { params: In<P> } : { params?: undefined };
/** A query whose fields are all optional may be left out. */
type QueryPart<K extends RouteId> = Spec<K> extends { query: infer Q } ? (Record<never, never> extends In<Q> ? { query?: In<Q> } : { query: In<Q> }) : { query?: undefined };
type BodyValue<B> = B extends z.ZodType ? z.input<B> : B extends 'binary' ? Uint8Array : never;
type BodyPart<K extends RouteId> = Spec<K> extends { body: infer B }
  ? Spec<K> extends { bodyOptional: true } ? { body?: BodyValue<B> } : { body: BodyValue<B> }
  : { body?: undefined };

/** What a request to route K carries. */
export type RequestOf<K extends RouteId> = ParamsPart<K> & QueryPart<K> & BodyPart<K>;

type Success<R> = R extends { 200: infer A } ? A : R extends { 201: infer A } ? A : R extends { 202: infer A } ? A : R extends { 204: infer A } ? A : never;
type Value<A> = A extends z.ZodType ? z.output<A> : A extends 'binary' ? Buffer : A extends 'text' ? string : undefined;

/** What a successful answer of route K holds. */
export type AnswerOf<K extends RouteId> = Value<Success<Spec<K>['responses']>>;
