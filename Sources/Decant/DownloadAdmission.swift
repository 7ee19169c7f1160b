/// When a registry pull extracts one more layer at once.
///
/// A pull extracts as many layers at once as it has cores: more only time-slice the same cores,
/// and the layer that starts last then runs alone, on one core, at the end (measured on 2 cores:
/// three registry layers at once made the pull 10–25 % slower than two). But a layer read from a
/// slow network leaves its core idle while it waits for bytes. So a registry pull starts at the
/// cores and lets one more layer start, up to its download limit, each time the transfers in
/// flight kept their readers waiting for most of a window.
struct DownloadAdmission {
    /// The most layers at once: the pull's download limit.
    let ceiling: Int
    /// The share of a window the transfers in flight must, on average, have kept their readers
    /// waiting for one more layer to start.
    let threshold: Double
    /// The shortest stretch of time a decision is taken on.
    let window: Duration
    /// Layers allowed at once now.
    private(set) var limit: Int
    private var baseline: (time: ContinuousClock.Instant, waiting: [Int: Duration])?

    init(floor: Int, ceiling: Int, threshold: Double = 0.5, window: Duration = .milliseconds(500)) {
        self.limit = max(1, floor)
        self.ceiling = max(self.limit, ceiling)
        self.threshold = threshold
        self.window = window
    }

    /// Takes a sample: `waiting` is, for each layer whose transfer is in flight, how long its
    /// reader has waited for the network so far; `queued` whether a layer waits for a slot.
    /// `true` when one more layer should start (``limit`` is then one higher).
    mutating func admitsAnother(at now: ContinuousClock.Instant, waiting: [Int: Duration], queued: Bool) -> Bool {
        guard queued, limit < ceiling else {
            baseline = nil
            return false
        }
        guard let start = baseline else {
            baseline = (now, waiting)
            return false
        }
        let elapsed = now - start.time
        guard elapsed >= window else { return false }
        baseline = (now, waiting)
        // Only transfers seen through the whole window count, and every slot must hold one: a
        // layer read from the content store, or one that has just started, says nothing about
        // the network.
        let seen = waiting.compactMap { index, total in
            start.waiting[index].map { min(1, max(0, (total - $0) / elapsed)) }
        }
        guard seen.count >= limit else { return false }
        guard seen.reduce(0, +) / Double(seen.count) >= threshold else { return false }
        limit += 1
        // The layer that starts now is measured from its own first window.
        baseline = nil
        return true
    }
}
