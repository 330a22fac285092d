/// A generic tuner: walks a candidate grid, applying each candidate to a copy of the
/// base parameters and timing it, and keeps the fastest. `kernel-bench tune` runs one
/// per tuned parameter group, timing with `Engine.medianDeviceMilliseconds`.
public enum Tuner {
    /// One candidate's measurement: milliseconds, or why it could not be timed.
    public struct Trial<Candidate> {
        /// The candidate timed.
        public let candidate: Candidate
        /// Its time in milliseconds, or the error that timing it threw.
        public let result: Result<Double, any Error>
    }

    /// The base parameters with the fastest candidate applied, that candidate and its
    /// time. A candidate whose timing throws is skipped (reported to `report`); when
    /// every one throws, the first error is rethrown. An empty grid is an error.
    /// With `finalists` > 1, that many of the fastest are timed again, one after the other,
    /// and the fastest of that second round wins (its time is returned): a grid walked
    /// over minutes sees the machine's load drift, and a lucky first time should not win.
    public static func fastest<Parameters, Candidate>(
        _ candidates: [Candidate], base: Parameters, apply: (inout Parameters, Candidate) -> Void,
        finalists: Int = 1, time: (Parameters) throws -> Double, report: (Trial<Candidate>) -> Void = { _ in }
    ) throws -> (parameters: Parameters, winner: Candidate, milliseconds: Double) {
        let first = try fastestOnce(candidates, base: base, apply: apply, time: time, report: report)
        guard finalists > 1, first.count > 1 else { return first[0] }
        let again = first.prefix(finalists).map(\.winner)
        return try fastestOnce(again, base: base, apply: apply, time: time, report: report)[0]
    }

    /// Every candidate that could be timed, fastest first.
    private static func fastestOnce<Parameters, Candidate>(
        _ candidates: [Candidate], base: Parameters, apply: (inout Parameters, Candidate) -> Void,
        time: (Parameters) throws -> Double, report: (Trial<Candidate>) -> Void
    ) throws -> [(parameters: Parameters, winner: Candidate, milliseconds: Double)] {
        var timed: [(parameters: Parameters, winner: Candidate, milliseconds: Double)] = []
        var firstError: (any Error)?
        for candidate in candidates {
            var trial = base
            apply(&trial, candidate)
            do {
                let milliseconds = try time(trial)
                report(Trial(candidate: candidate, result: .success(milliseconds)))
                timed.append((trial, candidate, milliseconds))
            } catch {
                report(Trial(candidate: candidate, result: .failure(error)))
                firstError = firstError ?? error
            }
        }
        // stable: of equal times the earlier candidate wins
        if !timed.isEmpty { return timed.enumerated().sorted { ($0.element.milliseconds, $0.offset) < ($1.element.milliseconds, $1.offset) }.map(\.element) }
        throw firstError ?? FusedKernelsError.invalidArgument(argument: "candidates", reason: "empty grid")
    }

    /// The median of `samples` (NaN for none).
    public static func median(_ samples: [Double]) -> Double {
        guard !samples.isEmpty else { return .nan }
        let sorted = samples.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
