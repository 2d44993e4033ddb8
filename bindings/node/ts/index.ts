/**
 * libami for Node.js: the Asterisk Manager Interface on libami's Rust core.
 *
 * - The async client: {@link connect} (`net`/`tls`, MD5 login, pipelined actions, lists,
 *   bounded event streams, keepalive, reconnection) and {@link serve} (a server for test doubles).
 * - The sans-IO layer: {@link Decoder} and {@link Message}, {@link encodeAction},
 *   {@link ClientConnection}, {@link Server}.
 * - Asterisk's access rules: {@link Privilege}, {@link Acl}, {@link ManagerConfig},
 *   {@link EventFilter}, {@link FilterSet}.
 * - The manager.conf editor: `ManagerConfig.edit()` returns a {@link ConfigEditor}
 *   (lossless, every edit re-loaded and checked), {@link generateSecret}.
 * - The catalog: `events` (a typed class per documented event) and `actions` (a factory per
 *   documented action), generated from Asterisk's documentation.
 *
 * @packageDocumentation
 */
import native = require("./native");

export {
  ActionError,
  AmiTimeoutError,
  ConfigEditError,
  ConfigError,
  ConnectionLost,
  LocalProtocolError,
  LoginError,
  NotAnAmiServer,
  ProtocolError,
  RemoteProtocolError,
  ResponseTooLarge,
} from "./errors";
export type { ErrorDetails } from "./errors";
export { Banner, Message } from "./message";
export type { Line, MessageKind, Role } from "./message";
export { Decoder } from "./decoder";
export type { DecoderOptions } from "./decoder";
export { encodeAction, encodeEvent, encodeResponse } from "./encode";
export type { Fields, Value } from "./encode";
export { ClientConnection } from "./connection";
export type { ClientConnectionOptions, ClientEvent, ClientState, CloseReason, SendOptions } from "./connection";
export { Server, ServerAction } from "./server";
export type { ServerEvent, ServerOptions, SessionInfo } from "./server";
export { Backoff, MAX_LIST_BYTES, MAX_LIST_ITEMS } from "./guards";
export type { BackoffOptions } from "./guards";
export { Client, EventStream, connect } from "./client";
export type { ActionOptions, ConnectOptions, EventsOptions } from "./client";
export { AmiServer, Request, serve } from "./serve";
export type { Handler, ServeOptions } from "./serve";
export { TypedEvent, UnknownEvent } from "./catalog";
export type { Action, ActionFactory, TypedEventClass } from "./catalog";
export { ConfigEditor, EditReport, generateSecret } from "./editor";
export type { AclRule, Classes, EditOptions, FilterLine, Finding, UserSettings } from "./editor";
export * as events from "./events";
export * as actions from "./actions";

/** A set of AMI permission classes (see the native declarations). */
export const Privilege = native.Privilege;
export type Privilege = native.Privilege;
/** One `permit`/`deny` list, evaluated as Asterisk does. */
export const Acl = native.Acl;
export type Acl = native.Acl;
/** A loaded manager.conf. */
export const ManagerConfig = native.ManagerConfig;
export type ManagerConfig = native.ManagerConfig;
/** One `[user]` of manager.conf. */
export type User = native.User;
/** One event filter. */
export const EventFilter = native.EventFilter;
export type EventFilter = native.EventFilter;
/** The filters of one session or user. */
export const FilterSet = native.FilterSet;
export type FilterSet = native.FilterSet;
/** The `[general]` settings of manager.conf. */
export type GeneralSettings = native.GeneralSettings;
/** The classes a user needs in `write=` to run an action, or `null` for one not in the catalog. */
export const actionAuthority = native.actionAuthority;
/** The category of an event, or `null` when unknown. */
export const eventCategory = native.eventCategory;
/** The version of libami. */
export const version: string = native.version();
