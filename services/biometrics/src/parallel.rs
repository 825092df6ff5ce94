//! Running a compare's two independent halves side by side.
//!
//! A compare's reference and probe are decoded, detected, quality-checked and embedded
//! independently. On two cores, running the halves on two threads with one ONNX Runtime thread
//! each keeps both cores busy through the Rust stages (decode, resampling, quality) as well as
//! the model runs, where one half at a time would leave a core idle for most of the Rust work.

/// Runs `first` on the calling thread and `second` on a scoped thread; returns both results.
/// A panic in `second` is resumed on the calling thread.
pub fn both<A, B>(first: impl FnOnce() -> A, second: impl FnOnce() -> B + Send) -> (A, B)
where
    B: Send,
{
    std::thread::scope(|scope| {
        let handle = scope.spawn(second);
        let first_result = first();
        let second_result = match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (first_result, second_result)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_halves_run_on_different_threads_and_return_in_order() {
        let (first, second) = both(
            || (1, std::thread::current().id()),
            || (2, std::thread::current().id()),
        );
        assert_eq!((first.0, second.0), (1, 2));
        assert_ne!(first.1, second.1);
    }
}
