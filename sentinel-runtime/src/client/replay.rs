//! Record ids that already let an action through, so a replayed `ALLOW` is refused
//! (feature `verify`).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// How many honoured record ids a client remembers to refuse their replay.
const REMEMBERED_RECORDS: usize = 4096;

/// The last [`REMEMBERED_RECORDS`] record ids a client honoured.
#[derive(Default)]
pub(crate) struct SeenRecords {
    inner: Mutex<(HashSet<String>, VecDeque<String>)>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
impl SeenRecords {
    /// Remembers `record_id`; `false` when it was already used.
    pub(super) fn first_use(&self, record_id: &str) -> bool {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if !set.insert(record_id.to_owned()) {
            return false;
        }
        order.push_back(record_id.to_owned());
        if order.len() > REMEMBERED_RECORDS {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
        true
    }
}
