//! Browser side of the live console: an EventSource on `/live/{name}` that
//! replaces the console view with every update. EventSource reconnects on
//! its own, and the server's first message after a reconnect is the current
//! state. On the server this does nothing (there is no browser).

use leptos::prelude::*;

use crate::model::console::ConsoleView;

pub fn subscribe(name: String, view: RwSignal<ConsoleView>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;

        let Ok(source) = web_sys::EventSource::new(&format!("/live/{name}")) else {
            return;
        };
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    if let Ok(next) = serde_json::from_str::<ConsoleView>(&text) {
                        view.set(next);
                    }
                }
            },
        );
        let _ =
            source.add_event_listener_with_callback("console", on_message.as_ref().unchecked_ref());
        on_message.forget();
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || source.close());
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (name, view);
    }
}
