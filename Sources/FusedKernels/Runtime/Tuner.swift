/// A generic tuner: walks a candidate grid, applying each candidate to a copy of the
/// base parameters and timing it, and keeps the fastest. `kernel-bench tune` runs one
/// per tuned parameter group, timing with `Engine.medianDeviceMilliseconds`.
public enum Tuner {
    /// One candidate's measurement: milliseconds, or why it could not be timed.
    public struct Trial<Candidate> {
        public let candidate: Candidate
        public let result: Result<Double, any Error>
    }

    /// The base parameters with the fastest candidate applied, that candidate and its
    /// time. A candidate whose timing throws is skipped (reported to `report`); when
    /// every one throws, the first error is rethrown. An empty grid is an error.
    public static func fastest<Parameters, Candidate>(
        _ candidates: [Candidate], base: Parameters, apply: (inout Parameters, Candidate) -> Void,
        time: (Parameters) throws -> Double, report: (Trial<Candidate>) -> Void = { _ in }
    ) throws -> (parameters: Parameters, winner: Candidate, milliseconds: Double) {
        var best: (parameters: Parameters, winner: Candidate, milliseconds: Double)?
        var firstError: (any Error)?
        for candidate in candidates {
            var trial = base
            apply(&trial, candidate)
            do {
                let milliseconds = try time(trial)
                report(Trial(candidate: candidate, result: .success(milliseconds)))
                if milliseconds < best?.milliseconds ?? .infinity { best = (trial, candidate, milliseconds) }
            } catch {
                report(Trial(candidate: candidate, result: .failure(error)))
                firstError = firstError ?? error
            }
        }
        if let best { return best }
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
