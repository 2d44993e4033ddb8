/**
 * The addon built by napi-rs (`native/index.js`, its declarations generated from the Rust
 * sources into `native/index.d.ts`), loaded once.
 * @internal
 */
import * as native from "../native/index.js";

export = native;
