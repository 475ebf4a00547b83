/* Following the phone's position (navigator.geolocation.watchPosition) for the field pages.
   A refusal (code 1) stops the watch and tells the page (onDenied); "unavailable" (code 2) is
   often brief (a tunnel, a move), so the watch goes on; both are said to the user. */

/**
 * @param {{onPosition: (pos: GeolocationPosition) => void, onDenied: () => void,
 *          say: (text: string) => void, strings: Object<string, string>, maximumAge: number}} o
 *        strings: gps_none, gps_denied, gps_unavailable, gps_slow
 */
export function positionWatcher(o) {
  let watchId = null;

  function stop() {
    if (watchId !== null && navigator.geolocation) { navigator.geolocation.clearWatch(watchId); }
    watchId = null;
  }

  function onError(err) {
    if (err.code === 1) {
      o.say(o.strings.gps_denied);
      stop();
      o.onDenied();
    } else if (err.code === 2) {
      o.say(o.strings.gps_unavailable);
    } else {
      o.say(o.strings.gps_slow);
    }
  }

  return {
    /** Starts watching; false when it already watches or the phone cannot tell. */
    start() {
      if (!navigator.geolocation) { o.say(o.strings.gps_none); return false; }
      if (watchId !== null) { return false; }
      watchId = navigator.geolocation.watchPosition(o.onPosition, onError, {
        enableHighAccuracy: true, maximumAge: o.maximumAge, timeout: 30000
      });
      return true;
    },
    stop,
    /** The same handling for a one-off getCurrentPosition's error. */
    onError,
  };
}
