// Camera capture with getUserMedia: open a stream into a <video>, grab JPEG frames from it.
//
// Frames are drawn unmirrored (as the camera sees the scene), which is what the liveness check
// expects; only the on-screen preview of the selfie camera is mirrored, by CSS.

/** Whether this browser can use a camera at all (needs a secure context or localhost). */
export function cameraSupported() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

/** Opens the camera facing `facing` ("user" or "environment") into `video`; returns the stream. */
export async function openCamera(video, facing) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: facing }, width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  video.srcObject = stream;
  video.muted = true;
  video.setAttribute("playsinline", "");
  await video.play();
  if (!video.videoWidth) {
    await new Promise((resolve) => video.addEventListener("loadedmetadata", resolve, { once: true }));
  }
  return stream;
}

/** Stops every track of `stream` and detaches it from `video`. */
export function closeCamera(stream, video) {
  if (stream) stream.getTracks().forEach((track) => track.stop());
  if (video) video.srcObject = null;
}

/** One JPEG frame of `video` as a File. */
export function grabFrame(video, name = "frame.jpg") {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => {
    canvas.toBlob(
      (blob) => (blob ? resolve(new File([blob], name, { type: "image/jpeg" })) : reject(new Error("no frame"))),
      "image/jpeg",
      0.92,
    );
  });
}

/** `count` frames spread evenly over `spanMs` (the first at once), calling onFrame(n) after each. */
export async function captureFrames(video, count, spanMs, onFrame = () => {}) {
  const frames = [];
  const gap = count > 1 ? spanMs / (count - 1) : 0;
  for (let i = 0; i < count; i += 1) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, gap));
    frames.push(await grabFrame(video, `frame-${i + 1}.jpg`));
    onFrame(i + 1);
  }
  return frames;
}
