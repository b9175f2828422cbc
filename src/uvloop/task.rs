//! Tasks on a JS thread's libuv loop: a poll function (a client's or worker's session loop) run on the
//! thread whose JS consumes its events, whenever one of its sockets, its timer or a command wakes it.
//!
//! Wake-ups on the loop's thread (a libuv callback, a JS call into our binding) only mark the task and
//! queue it; the queue runs when the outermost [`Entry`] ends, that is right after the libuv callback or the
//! binding call, so a task never runs inside another's poll and the sends JS makes while it handles a
//! delivery leave in the task's next write. A wake-up from another thread (an `inproc://` peer on the
//! runtime thread) goes through the task's `uv_async_t`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use super::handle::{Async, AsyncSender, LoopRef, UvError};

/// What a task runs: polled until `Ready`.
pub type Body = Box<dyn FnMut(&mut Context<'_>) -> Poll<()>>;

/// Polls of one task per run before it yields to the rest of the loop.
const MAX_POLLS: usize = 16;
/// Time one run may take (its JS deliveries included) before the task yields to the rest of the loop, so
/// Node's timers and other I/O keep running under a flood a slow handler cannot keep up with.
const RUN_BUDGET: std::time::Duration = std::time::Duration::from_millis(2);

thread_local! {
  /// This thread's tasks, by id.
  static TASKS: RefCell<HashMap<u64, Rc<Cell_>>> = RefCell::new(HashMap::new());
  /// Ids woken on this thread and not yet run.
  static READY: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
  /// Nesting depth of [`Entry`] guards on this thread.
  static DEPTH: Cell<usize> = const { Cell::new(0) };
  /// Its address names this thread (cheaper than `thread::current().id()` on every wake-up).
  static TOKEN: u8 = const { 0 };
}

/// A number unique to the calling thread while it lives.
pub fn thread_token() -> usize {
  TOKEN.with(|t| t as *const u8 as usize)
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The waker's side: which task, on which thread, and how to reach it from elsewhere.
struct Shared {
  id: u64,
  home: usize,
  woken: AtomicBool,
  remote: OnceLock<AsyncSender>,
}

impl Wake for Shared {
  fn wake(self: Arc<Self>) {
    self.wake_by_ref();
  }

  fn wake_by_ref(self: &Arc<Self>) {
    if self.woken.swap(true, Ordering::AcqRel) {
      return; // already queued, or its run is going to poll again
    }
    // `try_with`: a waker dropped or woken while the thread's locals are being destroyed (Node exiting
    // from inside a delivery, on an uncaught exception) finds no queue and goes the remote way.
    let queued = thread_token() == self.home
      && DEPTH.with(Cell::get) > 0
      && READY.try_with(|r| r.borrow_mut().push(self.id)).is_ok();
    if queued {
      return;
    }
    if let Some(remote) = self.remote.get() {
      // Another thread, or this one outside any entry: the loop runs it from the async callback.
      remote.send();
    }
  }
}

/// The task's state on its thread.
struct Cell_ {
  shared: Arc<Shared>,
  body: RefCell<Option<Body>>,
  running: Cell<bool>,
  /// It used up its budget: the loop's next turn runs it (through its async handle), not this one.
  yielded: Cell<bool>,
  /// Set when the task is cancelled during its own poll: the body is dropped when the poll returns.
  cancelled: Cell<bool>,
  wake_handle: RefCell<Option<Async>>,
}

/// A task on this thread's loop; dropping the handle does not end it (see [`Task::cancel`]).
#[derive(Clone)]
pub struct Task {
  id: u64,
}

impl Task {
  /// Starts `body` on loop `lp` (this thread's); its first poll comes from the loop, not from this call.
  ///
  /// # Errors
  /// No libuv in this process.
  pub fn spawn(lp: LoopRef, body: Body) -> Result<Task, UvError> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let wake_handle = Async::new(lp, Box::new(move || run_id(id)))?;
    let shared = Arc::new(Shared {
      id,
      home: thread_token(),
      woken: AtomicBool::new(true),
      remote: OnceLock::new(),
    });
    let sender = wake_handle.sender();
    let _ = shared.remote.set(sender.clone());
    let cell = Rc::new(Cell_ {
      shared,
      body: RefCell::new(Some(body)),
      running: Cell::new(false),
      yielded: Cell::new(false),
      cancelled: Cell::new(false),
      wake_handle: RefCell::new(Some(wake_handle)),
    });
    TASKS.with(|t| t.borrow_mut().insert(id, cell));
    sender.send();
    Ok(Task { id })
  }

  /// Wakes the task as its own wakers do (queued inside an entry, through its async handle outside one).
  pub fn wake(&self) {
    if let Ok(Some(cell)) = TASKS.try_with(|t| t.borrow().get(&self.id).cloned()) {
      cell.shared.wake_by_ref();
    }
  }

  /// Ends the task: its body (sockets, timers, JS references) is dropped now, or right after its poll
  /// when called from inside it.
  pub fn cancel(&self) {
    cancel_id(self.id);
  }
}

fn cancel_id(id: u64) {
  // `try_with`: a handle finalized while the thread is exiting finds its tasks gone already.
  let Ok(Some(cell)) = TASKS.try_with(|t| t.borrow().get(&id).cloned()) else {
    return;
  };
  if cell.running.get() {
    cell.cancelled.set(true);
  } else {
    finish(&cell);
  }
}

/// Ends every task of this thread (the env is being torn down).
pub fn cancel_all() {
  let ids: Vec<u64> = TASKS.with(|t| t.borrow().keys().copied().collect());
  for id in ids {
    cancel_id(id);
  }
}

fn finish(cell: &Rc<Cell_>) {
  let _ = TASKS.try_with(|t| t.borrow_mut().remove(&cell.shared.id));
  let body = cell.body.borrow_mut().take();
  drop(body);
  drop(cell.wake_handle.borrow_mut().take());
}

/// The task's async handle fired: a wake-up from another thread, a yield, or its first run.
fn run_id(id: u64) {
  let _entry = Entry::enter();
  if let Some(cell) = TASKS.with(|t| t.borrow().get(&id).cloned()) {
    cell.yielded.set(false);
    run(&cell);
  }
}

/// Polls the task until it is not woken again (at most [`MAX_POLLS`] times).
fn run(cell: &Rc<Cell_>) {
  if cell.running.get() {
    return; // woken from inside its own poll: that run polls again
  }
  cell.running.set(true);
  let waker = Waker::from(cell.shared.clone());
  let mut cx = Context::from_waker(&waker);
  let mut done = false;
  let started = std::time::Instant::now();
  for _ in 0..MAX_POLLS {
    cell.shared.woken.store(false, Ordering::Release);
    let polled = match cell.body.borrow_mut().as_mut() {
      Some(body) => body(&mut cx),
      None => Poll::Ready(()),
    };
    if polled.is_ready() || cell.cancelled.get() {
      done = true;
      break;
    }
    if !cell.shared.woken.load(Ordering::Acquire) || started.elapsed() >= RUN_BUDGET {
      break;
    }
  }
  cell.running.set(false);
  if done {
    finish(cell);
  } else if cell.shared.woken.load(Ordering::Acquire) {
    // Still busy after its share: come back after the rest of the loop had its turn.
    cell.yielded.set(true);
    if let Some(remote) = cell.shared.remote.get() {
      remote.send();
    }
  }
}

/// Runs the tasks woken on this thread until none is left (bounded).
fn run_ready() {
  for _ in 0..1024 {
    let Ok(ids) = READY.try_with(|r| std::mem::take(&mut *r.borrow_mut())) else {
      return; // the thread is exiting
    };
    if ids.is_empty() {
      return;
    }
    for id in ids {
      if let Ok(Some(cell)) = TASKS.try_with(|t| t.borrow().get(&id).cloned()) {
        if !cell.yielded.get() {
          run(&cell);
        }
      }
    }
  }
}

/// Marks code that runs on the loop's thread on behalf of libuv or JS: wake-ups inside it are queued and
/// run when the outermost entry ends.
pub struct Entry(());

impl Entry {
  /// Enters (nests).
  pub fn enter() -> Entry {
    DEPTH.with(|d| d.set(d.get() + 1));
    Entry(())
  }
}

impl Drop for Entry {
  fn drop(&mut self) {
    let outermost = DEPTH.with(|d| d.get() == 1);
    if outermost {
      // Still inside (depth 1) while the queue runs, so the tasks' own wake-ups queue too.
      run_ready();
    }
    DEPTH.with(|d| d.set(d.get() - 1));
  }
}
