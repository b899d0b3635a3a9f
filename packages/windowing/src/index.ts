/**
 * `@weir/windowing`: clocks, windowers and window operators for Weir.
 *
 * @since 0.1.0
 */
export * as win from "./operators.js"
export type { WindowThen } from "./then.js"
export {
  BEGINNING_OF_TIME,
  type Clock,
  type ClockLogic,
  END_OF_TIME,
  EventClock,
  type EventClockState,
  SystemClock
} from "./clocks.js"
export {
  LATE_SESSION_ID,
  type SessionState,
  SessionWindower,
  type SlidingState,
  SlidingWindower,
  TumblingWindower,
  type WindowMetadata,
  type Windower,
  type WindowerLogic
} from "./windowers.js"
export { WindowLogic, type WindowKeyState, type WindowOptions, type WindowOut } from "./window.js"
export type { JoinInsertMode, JoinWindowEmitMode, JoinWindowOptions, SideValue } from "./operators.js"
