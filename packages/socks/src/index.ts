export {
  type AddressType,
  addressFromHost,
  decodeAddress,
  encodeAddress,
  type SocksAddress,
} from "./address";
export { AuthMethod, Command, Reply, SOCKS4_VERSION, SOCKS5_VERSION } from "./constants";
export type { Decoded } from "./decoded";
export { type SocksErrorCode, SocksProtocolError } from "./errors";
export {
  decodeGssapiMessage,
  encodeGssapiMessage,
  GSSAPI_VERSION,
  type GssapiMessage,
  GssapiMessageType,
} from "./gssapi";
export {
  decodeHttpConnectResponse,
  encodeHttpConnect,
  HTTP_CONNECT_MAX_HEAD_BYTES,
  type HttpConnectRequest,
  type HttpConnectResponse,
} from "./http-connect";
export {
  decodeProxyHeader,
  encodeProxyHeaderV1,
  encodeProxyHeaderV2,
  type ProxyHeader,
  type ProxyVersions,
} from "./proxy-protocol";
export {
  decodeSocks4Reply,
  decodeSocks4Request,
  encodeSocks4Reply,
  encodeSocks4Request,
  Socks4Reply,
  type Socks4Request,
} from "./socks4";
export {
  type CommandName,
  decodeGreeting,
  decodeMethodSelection,
  decodeReply,
  decodeRequest,
  encodeGreeting,
  encodeMethodSelection,
  encodeReply,
  encodeRequest,
  failureReply,
  type Greeting,
  type Reply5,
  type Request,
} from "./socks5";
export { decodeUdpHeader, encodeUdpDatagram, encodeUdpHeader, type UdpHeader } from "./udp";
export {
  decodeUserPassReply,
  decodeUserPassRequest,
  encodeUserPassReply,
  encodeUserPassRequest,
  type UserPass,
} from "./userpass";
