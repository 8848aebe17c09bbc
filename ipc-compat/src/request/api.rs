//! The answering methods shared by [`Server`](crate::Server) and
//! [`Client`](crate::Client): `on_request`, `on_request_typed`, `off_request`.

/// Request handler registration, forwarding to `self.inner.responders`, a
/// `Responders<$peer>`.
macro_rules! request_api {
    ($peer:ty, $peer_doc:literal) => {
        #[doc = concat!("Answers requests of type `request_type` (a peer's `request(request_type, data, timeout)`, `PROTOCOL.md`): `handler` gets the request, an event of that type with the request's data, and ", $peer_doc, ".")]
        ///
        /// The `Ok` value of its future is the reply; an `Err` reaches the
        /// asker as [`Error::Remote`](crate::Error::Remote) carrying the error's
        /// text (`to_string()`), and so does a handler that panics. Each
        /// request runs in a task of its own, so a slow one holds up neither
        /// the connection nor the other requests
        /// ([`Config::max_concurrent_requests`](crate::Config::max_concurrent_requests)
        /// at once per connection). A request of a type nobody answers gets
        /// an error reply at once.
        ///
        /// One handler per type: registering another replaces it (the return
        /// value says whether one was replaced). Request handlers are kept apart
        /// from [`on`](Self::on) handlers: requests and replies never reach
        /// `on`, `"*"` or [`subscribe`](Self::subscribe). The request type
        /// passes the profile's rules as an event type would (Assured: it
        /// must be allow-listed, and so must `ipc.request` and `ipc.reply`).
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() -> Result<(), ipc_compat::Error> {
        /// use std::time::Duration;
        /// use ipc_compat::{Config, Error, Ipc};
        ///
        /// let dir = tempfile::tempdir()?;
        /// let path = dir.path().join("app.world");
        /// let mut config = Config::default();
        /// config.silent = true;
        /// let server = Ipc::new(config.clone()).serve(Some(&path))?;
        /// server.on_request("time.add", |request, _socket| async move {
        ///     let [a, b]: [u64; 2] = request.data_as()?;
        ///     a.checked_add(b).ok_or_else(|| Error::Config("overflow".into()))
        /// });
        /// server.start().await?;
        ///
        /// let client = Ipc::new(config).connect_to("world", Some(&path))?;
        /// let sum = client.request("time.add", [2, 3], Duration::from_secs(5)).await?;
        /// assert_eq!(sum.data_as::<u64>()?, 5);
        /// let overflow = client.request("time.add", [u64::MAX, 1], Duration::from_secs(5)).await;
        /// assert!(matches!(overflow, Err(Error::Remote { message, .. }) if message.contains("overflow")));
        /// # Ok(())
        /// # }
        /// ```
        pub fn on_request<F, Fut, T, E>(&self, request_type: &str, handler: F) -> bool
        where
            F: Fn(ipc_codec::Event, $peer) -> Fut + Send + Sync + 'static,
            Fut: std::future::Future<Output = Result<T, E>> + Send + 'static,
            T: serde::Serialize,
            E: std::fmt::Display,
        {
            self.inner.responders.insert(request_type, crate::request::respond(handler))
        }

        /// Like [`on_request`](Self::on_request), with the request's data
        /// deserialized into `R`; data that does not fit is an error reply
        /// saying so, and the handler does not run.
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() -> Result<(), ipc_compat::Error> {
        /// use std::time::Duration;
        /// use ipc_compat::{Config, Ipc};
        ///
        /// #[derive(serde::Serialize, serde::Deserialize)]
        /// struct Greeting {
        ///     to: String,
        /// }
        ///
        /// let dir = tempfile::tempdir()?;
        /// let path = dir.path().join("app.world");
        /// let mut config = Config::default();
        /// config.silent = true;
        /// let server = Ipc::new(config.clone()).serve(Some(&path))?;
        /// server.on_request_typed("greet", |greeting: Greeting, _socket| async move {
        ///     Ok::<_, String>(format!("hello {}!", greeting.to))
        /// });
        /// server.start().await?;
        ///
        /// let client = Ipc::new(config).connect_to("world", Some(&path))?;
        /// let greeting = Greeting { to: "world".into() };
        /// let text: String = client.request_typed("greet", &greeting, Duration::from_secs(5)).await?;
        /// assert_eq!(text, "hello world!");
        /// # Ok(())
        /// # }
        /// ```
        pub fn on_request_typed<R, F, Fut, T, E>(&self, request_type: &str, handler: F) -> bool
        where
            R: serde::de::DeserializeOwned,
            F: Fn(R, $peer) -> Fut + Send + Sync + 'static,
            Fut: std::future::Future<Output = Result<T, E>> + Send + 'static,
            T: serde::Serialize,
            E: std::fmt::Display,
        {
            self.inner.responders.insert(request_type, crate::request::respond_typed(handler))
        }

        /// Removes the handler of `request_type`; whether there was one.
        /// Requests of that type then get an error reply.
        pub fn off_request(&self, request_type: &str) -> bool {
            self.inner.responders.remove(request_type)
        }
    };
}

pub(crate) use request_api;
