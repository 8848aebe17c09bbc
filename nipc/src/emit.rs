//! `nipc emit ENDPOINT TYPE [JSON]`: send one event, exit once it is written.

use futures::{SinkExt, StreamExt};
use tracing::Instrument as _;

use crate::args::Settings;
use crate::message::Outgoing;
use crate::report::Failure;
use crate::wire::{self, Link, WireCodec, LINGER};

/// Runs `nipc emit` with `message` (already parsed from the arguments).
pub(crate) async fn run(settings: &Settings, message: &Outgoing) -> Result<(), Failure> {
    // Refused by the profile (reserved name, not allowed, too large): a bad argument.
    WireCodec::new(&settings.mode).check(message).map_err(|e| Failure::usage(e.to_string()))?;
    match wire::connect(settings).await? {
        Link::Stream(mut framed) => {
            let span = crate::diagnostics::client_connection(framed.get_ref().peer());
            span.in_scope(crate::diagnostics::connected);
            let sent = async {
                let lost = |e: ipc_codec::CodecError| Failure::runtime(format!("connection lost: {e}"));
                framed.send(message.clone()).await.map_err(lost)?;
                framed.close().await.map_err(lost)?;
                // Let the server see our end and close its side, so that nothing
                // it sent meanwhile makes our close a reset.
                let _ =
                    tokio::time::timeout(LINGER, async { while let Some(Ok(_)) = framed.next().await {} })
                        .await;
                Ok(())
            };
            let sent: Result<(), Failure> = sent.instrument(span.clone()).await;
            span.in_scope(|| crate::diagnostics::disconnected(sent.as_ref().err().map(|f| f as _)));
            sent?;
        }
        Link::Udp(mut udp, target) => {
            udp.send((message.clone(), target)).await.map_err(|e| Failure::runtime(e.to_string()))?;
        }
    }
    Ok(())
}
