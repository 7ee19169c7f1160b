import CDecantShim
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// An io_uring instance: a submission and a completion queue shared with the kernel.
///
/// Owns the ring and tears it down in `deinit`. Not thread-safe: one ring per thread that submits.
public final class IOUring {
    private let ring: OpaquePointer
    /// Submissions queued or in flight whose completions have not been reaped.
    public private(set) var outstanding = 0

    /// Sets up a ring with room for `entries` submissions: `io_uring_queue_init(3)`. Fails where
    /// the kernel has no io_uring or a sandbox forbids it.
    public init(entries: UInt32) throws(SystemCallError) {
        var error: Int32 = 0
        guard let ring = decant_ring_create(entries, &error) else {
            throw SystemCallError("io_uring_queue_init", errno: Errno(rawValue: -error))
        }
        self.ring = ring
    }

    deinit {
        decant_ring_destroy(ring)
    }

    /// Queues a positional write of `bytes` to `descriptor`; returns false when the submission
    /// queue is full (submit, then try again). The bytes must stay valid until it completes.
    public func queueWrite(_ descriptor: FileDescriptor, _ bytes: UnsafeRawBufferPointer, offset: Int64,
                           tag: UInt64) -> Bool {
        guard decant_ring_queue_write(ring, descriptor.rawValue, bytes.baseAddress, UInt32(bytes.count),
                                      UInt64(offset), tag) == 1 else { return false }
        outstanding += 1
        return true
    }

    /// Hands what was queued to the kernel without waiting for any of it: `io_uring_submit(3)`.
    public func submit() throws(SystemCallError) {
        while true {
            let submitted = decant_ring_submit_and_wait(ring, 0)
            if submitted >= 0 { return }
            if submitted != -EINTR { throw SystemCallError("io_uring_submit", errno: Errno(rawValue: -submitted)) }
        }
    }

    /// Submits what was queued and waits until every outstanding operation completed, passing each
    /// completion's tag and result (a byte count, or a negated errno) to `completion`:
    /// `io_uring_submit_and_wait(3)`.
    public func submitAndWaitAll(_ completion: (_ tag: UInt64, _ result: Int32) -> Void) throws(SystemCallError) {
        while outstanding > 0 {
            let submitted = decant_ring_submit_and_wait(ring, 1)
            if submitted < 0 && submitted != -EINTR && submitted != -EAGAIN && submitted != -EBUSY {
                throw SystemCallError("io_uring_submit_and_wait", errno: Errno(rawValue: -submitted))
            }
            var tag: UInt64 = 0
            var result: Int32 = 0
            while decant_ring_reap(ring, &tag, &result) == 1 {
                completion(tag, result)
                outstanding -= 1
            }
        }
    }
}
