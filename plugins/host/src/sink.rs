//! A plugin instance as a [`Sink`]: creating it from options, turning each call into a C call
//! with borrowed C strings, and the status code and message back into a [`SinkError`].
//!
//! Owns the instance pointer: one [`PluginSink`] per instance, `destroy`ed exactly once when it
//! is dropped. Calls on one instance go through a mutex, so the plugin never sees two calls on
//! the same instance at once, whatever the caller does. Messages are copied, then given back
//! to the plugin's `free_error`.

use std::ffi::{CStr, CString, c_char, c_void};
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::{Arc, Mutex, PoisonError};

use streamrouter_plugin::abi;
use streamrouter_plugin::{ObjectMeta, Sink, SinkError};

use crate::{CreateError, Plugin};

/// One instance of a plugin, usable as a sink from any thread.
pub struct PluginSink {
    plugin: Arc<Plugin>,
    instance: Mutex<Instance>,
}

/// The plugin's instance pointer.
struct Instance(NonNull<c_void>);

// SAFETY: the ABI lets the host call an instance from any thread as long as it never makes two
// calls on it at once; `PluginSink` only reaches the pointer through its mutex.
unsafe impl Send for Instance {}

impl fmt::Debug for PluginSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginSink")
            .field("plugin", &self.plugin.info().name)
            .field("path", &self.plugin.info().path)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// A new instance from `options` (TOML text, empty when there are none).
    pub fn create(self: &Arc<Self>, options: &str) -> Result<PluginSink, CreateError> {
        let refused = |message: String| CreateError {
            plugin: self.info().name.clone(),
            path: self.info().path.clone(),
            message,
        };
        let text = CString::new(options)
            .map_err(|_| refused("the options contain a NUL byte".to_owned()))?;
        let mut message = ptr::null_mut();
        // SAFETY: `text` is `options.len()` bytes of UTF-8 followed by a NUL, alive for the
        // call; `message` is a valid out-parameter.
        let instance =
            unsafe { (self.functions.create)(text.as_ptr(), options.len(), &mut message) };
        let message = self.take_message(message);
        match NonNull::new(instance) {
            Some(instance) => Ok(PluginSink {
                plugin: Arc::clone(self),
                instance: Mutex::new(Instance(instance)),
            }),
            None => {
                Err(refused(message.unwrap_or_else(|| {
                    "create failed without a message".to_owned()
                })))
            }
        }
    }

    /// Copies a message the plugin handed out and gives it back to the plugin.
    fn take_message(&self, message: *mut c_char) -> Option<String> {
        if message.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated string from the plugin, alive until `free_error`.
        let text = unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: handed back once, to the plugin that allocated it.
        unsafe { (self.functions.free_error)(message) };
        Some(text)
    }
}

impl PluginSink {
    /// The plugin this instance belongs to.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// Runs one call on the instance (never two at once) and maps its status.
    fn call(
        &self,
        key: &str,
        call: impl FnOnce(*mut c_void, *mut *mut c_char) -> i32,
    ) -> Result<(), SinkError> {
        let mut message = ptr::null_mut();
        let status = {
            let instance = self.instance.lock().unwrap_or_else(PoisonError::into_inner);
            call(instance.0.as_ptr(), &mut message)
        };
        let message = self.plugin.take_message(message);
        let reason = || {
            message
                .clone()
                .unwrap_or_else(|| "no reason given".to_owned())
        };
        match status {
            abi::STATUS_OK => Ok(()),
            abi::STATUS_TEMPORARY => Err(SinkError::temporary(key, reason())),
            abi::STATUS_PERMANENT => Err(SinkError::permanent(key, reason())),
            other => Err(SinkError::permanent(
                key,
                format!("unknown status {other} from the plugin: {}", reason()),
            )),
        }
    }
}

/// `text` as a C string, or a permanent error naming `what`.
fn c_text(key: &str, text: &str, what: &str) -> Result<CString, SinkError> {
    CString::new(text).map_err(|_| SinkError::permanent(key, format!("{what} contains a NUL byte")))
}

impl Sink for PluginSink {
    fn put(&self, key: &str, body: &[u8], meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        let c_key = c_text(key, key, "the key")?;
        let content_type = c_text(key, meta.content_type, "the content type")?;
        let cache_control = (meta.cache_control)
            .map(|value| c_text(key, value, "the cache control"))
            .transpose()?;
        let put = self.plugin.functions.put;
        self.call(key, |instance, message| {
            let cache_control = cache_control.as_ref().map_or(ptr::null(), |c| c.as_ptr());
            // SAFETY: a live instance (one call at a time), NUL-terminated strings and `body`
            // alive for the call, a valid out-parameter.
            unsafe {
                put(
                    instance,
                    c_key.as_ptr(),
                    body.as_ptr(),
                    body.len(),
                    content_type.as_ptr(),
                    cache_control,
                    message,
                )
            }
        })
    }

    fn delete(&self, key: &str) -> Result<(), SinkError> {
        let c_key = c_text(key, key, "the key")?;
        let delete_object = self.plugin.functions.delete_object;
        // SAFETY: a live instance (one call at a time), a key alive for the call, a valid
        // out-parameter.
        self.call(key, |instance, message| unsafe {
            delete_object(instance, c_key.as_ptr(), message)
        })
    }
}

impl Drop for PluginSink {
    fn drop(&mut self) {
        let instance = self
            .instance
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        // SAFETY: the instance came from this plugin's `create`, and this is its last use.
        unsafe { (self.plugin.functions.destroy)(instance.0.as_ptr()) };
    }
}
