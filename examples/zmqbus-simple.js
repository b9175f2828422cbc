var zmqbus = require('zmqbus');
// Run multiple instances of this across processes/machines.
// All instances will receive/send to each other by channel.
var node = zmqbus.createNode({});
node.on('ready', function() {
  // subscribe to equity channel
  node.subscribe("equity");
  // publish a quote cluster-wide
  node.publish("equity", "AAPL", 500.0);
});
node.on('message', function(msg) {
  console.log("received " + msg);
});
