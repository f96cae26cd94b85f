// The AMQPClient module.
