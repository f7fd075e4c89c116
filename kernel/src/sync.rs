//! One CPU, interrupts as the only concurrency: a lock is "interrupts off".
//! The flag catches re-entry (an exception while the lock is held) instead of
//! silently aliasing; `try_lock` lets the trap path print anyway.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch;

pub struct IrqLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: there is one CPU; access is serialised by masking interrupts and the
// `locked` flag, so at most one `IrqGuard` exists at a time.
unsafe impl<T: Send> Sync for IrqLock<T> {}

pub struct IrqGuard<'a, T> {
    lock: &'a IrqLock<T>,
    irqs_were_on: bool,
}

impl<T> IrqLock<T> {
    pub const fn new(value: T) -> Self {
        IrqLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Lock; panics on re-entry (a bug: an interrupt handler taking a lock the
    /// interrupted code holds).
    pub fn lock(&self) -> IrqGuard<'_, T> {
        self.try_lock().expect("IrqLock re-entered")
    }

    pub fn try_lock(&self) -> Option<IrqGuard<'_, T>> {
        let irqs_were_on = arch::interrupts_enabled();
        arch::interrupts_disable();
        if self.locked.swap(true, Ordering::Acquire) {
            if irqs_were_on {
                arch::interrupts_enable();
            }
            return None;
        }
        Some(IrqGuard {
            lock: self,
            irqs_were_on,
        })
    }
}

impl<T> Deref for IrqGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard is the only holder (see `Sync` above).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for IrqGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard is the only holder (see `Sync` above).
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for IrqGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
        if self.irqs_were_on {
            arch::interrupts_enable();
        }
    }
}
