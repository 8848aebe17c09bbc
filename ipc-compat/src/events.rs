//! The event methods shared by [`Client`](crate::Client) and [`Server`](crate::Server).

/// Handler registration methods forwarding to `self.inner.events`, a
/// `Dispatcher<$peer>`.
macro_rules! event_api {
    ($peer:ty, $peer_doc:literal) => {
        /// The dispatcher behind [`on`](Self::on) and friends, for everything
        /// else `ipc_events` offers (typed async handlers, subscriptions with
        /// another overflow policy, handler counts).
        pub fn events(&self) -> &ipc_events::Dispatcher<$peer> {
            &self.inner.events
        }

        #[doc = concat!("Runs `handler` for every event of type `event_type` that arrives, with ", $peer_doc, " (`\"*\"`: every event, before the typed handlers).")]
        ///
        /// Handlers run on the connection's reader task, one event at a time,
        /// in arrival order: keep them short, or spawn. Lifecycle events
        /// (`connect`, `error`, ...) have their own methods below; a wire event
        /// that happens to be called `connect` reaches only `on("connect", ..)`.
        pub fn on<F>(&self, event_type: &str, handler: F) -> ipc_events::HandlerId
        where
            F: Fn(&ipc_codec::Event, &$peer) + Send + Sync + 'static,
        {
            self.inner.events.on(event_type, handler)
        }

        /// Like [`on`](Self::on), for the next matching event only.
        pub fn once<F>(&self, event_type: &str, handler: F) -> ipc_events::HandlerId
        where
            F: Fn(&ipc_codec::Event, &$peer) + Send + Sync + 'static,
        {
            self.inner.events.once(event_type, handler)
        }

        /// Runs `handler` with the event's data deserialized into `T`; data
        /// that does not fit goes to the `error` handlers instead.
        pub fn on_typed<T, F>(&self, event_type: &str, handler: F) -> ipc_events::HandlerId
        where
            T: serde::de::DeserializeOwned,
            F: Fn(T, &$peer) + Send + Sync + 'static,
        {
            self.inner.events.on_typed(event_type, handler)
        }

        /// Runs the async `handler` for every event of type `event_type`; the
        /// next event of that connection waits until its future completes.
        pub fn on_async<F, Fut>(&self, event_type: &str, handler: F) -> ipc_events::HandlerId
        where
            F: Fn(ipc_codec::Event, $peer) -> Fut + Send + Sync + 'static,
            Fut: std::future::Future<Output = ()> + Send + 'static,
        {
            self.inner.events.on_async(event_type, handler)
        }

        /// Removes one handler (node-ipc `off(type, handler)`); whether it was registered.
        pub fn off(&self, id: ipc_events::HandlerId) -> bool {
            self.inner.events.off(id)
        }

        /// Removes every handler of `event_type` (node-ipc `off(type, '*')`); how many.
        pub fn off_all(&self, event_type: &str) -> usize {
            self.inner.events.off_all(event_type)
        }

        /// A bounded stream of the events of type `event_type` (`"*"`: all),
        /// each with its peer; when `capacity` events wait, reading waits for you.
        ///
        /// # Panics
        ///
        /// When `capacity` is 0.
        pub fn subscribe(
            &self,
            event_type: &str,
            capacity: usize,
        ) -> ipc_events::Subscription<(ipc_codec::Event, $peer)> {
            self.inner.events.subscribe(event_type, capacity)
        }

        /// Runs `handler` for every lifecycle event (`connect`, `disconnect`,
        /// `error`, `data`, ...), as one [`Lifecycle`](ipc_events::Lifecycle) enum.
        pub fn on_lifecycle<F>(&self, handler: F) -> ipc_events::HandlerId
        where
            F: Fn(&ipc_events::Lifecycle<$peer>) + Send + Sync + 'static,
        {
            self.inner.events.on_lifecycle(handler)
        }

        /// A bounded stream of lifecycle events (the async counterpart of the
        /// `on_connect`, `on_error`, ... callbacks).
        ///
        /// # Panics
        ///
        /// When `capacity` is 0.
        pub fn lifecycle(&self, capacity: usize) -> ipc_events::Subscription<ipc_events::Lifecycle<$peer>> {
            self.inner.events.subscribe_lifecycle(capacity)
        }

        /// Runs `handler` for each `error` event (node-ipc `on('error', err => ..)`),
        /// with the connection it concerns when there is one. Get this crate's
        /// error back with [`Error::of`](crate::Error::of).
        pub fn on_error<F>(&self, handler: F) -> ipc_events::HandlerId
        where
            F: Fn(&ipc_events::Error, Option<&$peer>) + Send + Sync + 'static,
        {
            self.inner.events.on_lifecycle(move |event| {
                if let ipc_events::Lifecycle::Error { peer, error } = event {
                    handler(error, peer.as_ref());
                }
            })
        }

        /// Runs `handler` for each `connect` event.
        pub fn on_connect<F>(&self, handler: F) -> ipc_events::HandlerId
        where
            F: Fn(&$peer) + Send + Sync + 'static,
        {
            self.inner.events.on_lifecycle(move |event| {
                if let ipc_events::Lifecycle::Connect(peer) = event {
                    handler(peer);
                }
            })
        }

        /// Runs `handler` for each raw-buffer chunk (node-ipc `on('data', buffer => ..)`,
        /// with `rawBuffer` on).
        pub fn on_data<F>(&self, handler: F) -> ipc_events::HandlerId
        where
            F: Fn(&bytes::Bytes, &$peer) + Send + Sync + 'static,
        {
            self.inner.events.on_lifecycle(move |event| {
                if let ipc_events::Lifecycle::Data { peer, bytes } = event {
                    handler(bytes, peer);
                }
            })
        }
    };
}

pub(crate) use event_api;
