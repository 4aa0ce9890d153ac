//! One connection to Redis for commands, made again after a failure, every command
//! answered within [`PATIENCE`] or taken as Redis being away.

use std::{sync::Mutex, time::Duration};

use redis::{AsyncConnectionConfig, FromRedisValue, aio::MultiplexedConnection};

/// How long one Redis command may take before Redis counts as away.
pub const PATIENCE: Duration = Duration::from_secs(2);

/// A command connection to Redis.
pub struct Redis {
    client: redis::Client,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl Redis {
    /// Commands to the Redis of `client`, connecting when first needed.
    pub fn new(client: redis::Client) -> Self {
        Self {
            client,
            connection: Mutex::default(),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn connection(&self) -> Result<MultiplexedConnection, String> {
        if let Some(connection) = self.held().clone() {
            return Ok(connection);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(PATIENCE))
            .set_response_timeout(Some(PATIENCE));
        let connecting = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        let made = tokio::time::timeout(PATIENCE, connecting)
            .await
            .map_err(|_| "no answer in time".to_owned())?
            .map_err(|error| error.to_string())?;
        *self.held() = Some(made.clone());
        Ok(made)
    }

    /// Runs `command`.
    pub async fn query<T: FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, String> {
        let mut connection = self.connection().await?;
        let answer = tokio::time::timeout(PATIENCE, command.query_async(&mut connection)).await;
        self.answered(answer)
    }

    /// Runs `pipeline`.
    pub async fn pipeline<T: FromRedisValue>(
        &self,
        pipeline: &redis::Pipeline,
    ) -> Result<T, String> {
        let mut connection = self.connection().await?;
        let answer = tokio::time::timeout(PATIENCE, pipeline.query_async(&mut connection)).await;
        self.answered(answer)
    }

    fn answered<T>(
        &self,
        answer: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, String> {
        let failed = match answer {
            Ok(Ok(value)) => return Ok(value),
            // Redis answered: the connection is fine, the command was not.
            Ok(Err(error))
                if error.is_connection_dropped() || error.is_io_error() || error.is_timeout() =>
            {
                error.to_string()
            }
            Ok(Err(error)) => return Err(error.to_string()),
            Err(_) => "no answer in time".to_owned(),
        };
        // The next command connects afresh.
        *self.held() = None;
        Err(failed)
    }
}
