export { bridgeGateway, dockerClient, dockerReachable, DEFAULT_DOCKER_SOCKET } from "./client.js";
export {
  buildImages,
  dockerUnavailable,
  makeLocalBase,
  makeLocalServiceImages,
  labelOf,
  RUNTIME_IMAGE,
  CONTROL_PLANE_IMAGE,
  LOCAL_BASE_IMAGE,
  DEFAULT_BASE_IMAGE,
  LOCAL_REDIS_IMAGE,
  LOCAL_HAPROXY_IMAGE,
  type BuildImagesOptions,
  type BuiltImages,
} from "./images.js";
