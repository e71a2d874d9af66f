/**
 * A step failed because the scenario asked for something impossible (no capture before a save, a
 * handle never opened), not because the device raised an error. Results show it as
 * `ScenarioStepError: <message>`.
 */
export class StepUsageError extends Error {
  override name = "ScenarioStepError";
}
