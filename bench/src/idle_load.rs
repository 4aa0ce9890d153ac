//! `idle-load URL N [ROOM_SIZE]`: logs N clients in to the signaling server at URL (in
//! rooms of ROOM_SIZE, or all in the default room), prints `ready` once every one has its
//! welcome, then holds them open (reading, so presence frames drain) until standard input
//! closes.

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::{connect_async, tungstenite::Message};

/// Logins under way at once: enough to be quick, few enough not to look like a flood.
const CONCURRENT_LOGINS: usize = 50;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(count)) = (args.next(), args.next()) else {
        return Err("usage: idle-load WS_URL CONNECTIONS [ROOM_SIZE]".into());
    };
    let count: usize = count.parse()?;
    let room_size: Option<usize> = args.next().map(|size| size.parse()).transpose()?;
    let mut readers = Vec::with_capacity(count);
    let mut clients = futures_util::stream::iter(0..count)
        .map(|i| {
            let url = url.clone();
            async move {
                let (mut socket, _) = connect_async(&url).await?;
                let mut login = json!({"type": "login", "name": format!("idle-{i}")});
                if let Some(size) = room_size {
                    login["room"] = json!(format!("idle-{}", i / size));
                }
                socket.send(Message::text(login.to_string())).await?;
                while let Some(frame) = socket.next().await {
                    if let Message::Text(text) = frame?
                        && text.contains("\"welcome\"")
                    {
                        return Ok(socket);
                    }
                }
                Err::<_, Box<dyn std::error::Error>>("closed before welcome".into())
            }
        })
        .buffer_unordered(CONCURRENT_LOGINS);
    while let Some(client) = clients.next().await {
        let mut socket = client?;
        readers.push(tokio::spawn(async move {
            while let Some(Ok(_)) = socket.next().await {}
        }));
    }
    println!("ready {}", readers.len());
    let mut rest = Vec::new();
    tokio::io::stdin().read_to_end(&mut rest).await?;
    for reader in readers {
        reader.abort();
    }
    Ok(())
}
