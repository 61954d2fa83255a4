//! Browser side of the live console: an EventSource on `/live/{name}` that
//! replaces the console view with every update. EventSource reconnects on
//! its own, and the server's first message after a reconnect is the current
//! state. On the server this does nothing (there is no browser).

use leptos::prelude::*;

use crate::model::console::ConsoleView;

pub fn subscribe(name: String, view: RwSignal<ConsoleView>) {
    subscribe_to(format!("/live/{name}"), "console", view, None);
}

/// An EventSource on `url` whose `event` messages (JSON) replace `view`.
/// When the server sends `gone` (a share link revoked or expired), the
/// source is closed and `gone` (if given) becomes true.
pub fn subscribe_to<T>(
    url: String,
    event: &'static str,
    view: RwSignal<T>,
    gone: Option<RwSignal<bool>>,
) where
    T: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;

        let Ok(source) = web_sys::EventSource::new(&url) else {
            return;
        };
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    if let Ok(next) = serde_json::from_str::<T>(&text) {
                        view.set(next);
                    }
                }
            },
        );
        let _ = source.add_event_listener_with_callback(event, on_message.as_ref().unchecked_ref());
        on_message.forget();
        let closing = source.clone();
        let on_gone =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
                closing.close();
                if let Some(gone) = gone {
                    gone.set(true);
                }
            });
        let _ = source.add_event_listener_with_callback("gone", on_gone.as_ref().unchecked_ref());
        on_gone.forget();
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || source.close());
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (url, event, view, gone);
    }
}
