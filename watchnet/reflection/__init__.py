"""The reflection session after a drill: timings, facts, chart, exports and replay."""
