//! A small pool of threads that run guards for `async fn`s, so the executor thread is
//! never blocked on the sidecar and no async runtime is required.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use once_cell::sync::Lazy;

type Job = Box<dyn FnOnce() + Send>;

/// The pool never grows past this; further jobs queue.
const MAX_THREADS: usize = 256;
/// An idle thread exits after this long without work.
const IDLE_EXIT: Duration = Duration::from_secs(10);

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

static POOL: Lazy<Pool> = Lazy::new(|| Pool {
    state: Mutex::new(State::default()),
    work: Condvar::new(),
});

fn spawn(job: Job) {
    let mut state = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
    // Every queued job needs a thread that will take it: an idle one, or a new one.
    if state.idle > state.queue.len() || state.threads >= MAX_THREADS {
        state.queue.push_back(job);
        POOL.work.notify_one();
        return;
    }
    match std::thread::Builder::new()
        .name("sentinel-guard".into())
        .spawn(worker)
    {
        Ok(_) => {
            state.threads += 1;
            state.queue.push_back(job);
        }
        Err(_) if state.threads > 0 => {
            // A busy thread takes the job when it is free.
            state.queue.push_back(job);
            POOL.work.notify_one();
        }
        Err(_) => {
            // No thread at all can be had: run the guard here rather than never. It blocks
            // this executor thread, but only until the client's deadline.
            drop(state);
            job();
        }
    }
}

fn worker() {
    let mut state = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            // A job that panics must not take its thread (and the pool's count) with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            state = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        state.idle += 1;
        let (next, timeout) = POOL
            .work
            .wait_timeout(state, IDLE_EXIT)
            .unwrap_or_else(|e| e.into_inner());
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.queue.is_empty() {
            state.threads -= 1;
            return;
        }
    }
}

/// Runs `f` on the pool; the returned future resolves to its result without blocking the
/// thread that polls it. Nothing runs until the first poll. `f` is told, through the flag
/// it is given, when the future has been dropped, so long waits can stop early.
pub(crate) fn run<T, F>(f: F) -> Blocking<T, F>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool) -> T + Send + 'static,
{
    Blocking {
        job: Some(f),
        slot: Arc::new(Mutex::new(Slot {
            value: None,
            waker: None,
        })),
        dropped: Arc::new(AtomicBool::new(false)),
    }
}

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// The future of [`run`].
pub(crate) struct Blocking<T, F> {
    job: Option<F>,
    slot: Arc<Mutex<Slot<T>>>,
    dropped: Arc<AtomicBool>,
}

impl<T, F> Unpin for Blocking<T, F> {}

impl<T, F> Drop for Blocking<T, F> {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::Relaxed);
    }
}

impl<T, F> Future for Blocking<T, F>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool) -> T + Send + 'static,
{
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<T> {
        {
            let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(value) = slot.value.take() {
                return Poll::Ready(value);
            }
            slot.waker = Some(cx.waker().clone());
        }
        if let Some(job) = self.job.take() {
            let (slot, dropped) = (Arc::clone(&self.slot), Arc::clone(&self.dropped));
            spawn(Box::new(move || {
                let value = job(&dropped);
                let waker = {
                    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
                    slot.value = Some(value);
                    slot.waker.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            }));
        }
        Poll::Pending
    }
}
