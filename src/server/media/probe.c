/* probe.c - the in-process media probe (libavformat + libavcodec + libswscale).
 *
 * Everything the demuxers read goes through one custom AVIOContext over the caller's
 * reader, which counts bytes (max_read: a demuxer that seeks back and forth forever runs
 * out of budget) and whose interrupt callback enforces the wall-clock deadline (libav*
 * polls it during I/O and in its long loops). Decoders get max_pixels, so a header that
 * claims a huge frame is refused before anything is allocated for it. What these cannot
 * stop (a decoder spinning on the CPU, an allocation pattern under the limits that still
 * adds up) is the child process's business: see probe_main.c and probe_run.c.
 *
 * Status rules (docs/internals/media-probe.md): no format recognised, a still image, or
 * no audio/video stream in a weakly recognised format -> NOT_MEDIA; a recognised format
 * that fails to open, whose index points past the end, or whose video decodes to nothing
 * -> CORRUPT; over a limit -> TOO_LARGE; deadline -> TIMEOUT.
 */
#include "server/media/probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#define PROBE_IO_BUF (32 * 1024)
/* Where the cover comes from, as a share of the duration. */
#define PROBE_COVER_AT 0.10
#define PROBE_JPEG_QSCALE 4   /* mjpeg quantiser scale: 2 best .. 31 worst */

struct probe_io {
    const vodup_media_reader *r;
    uint64_t pos;
    uint64_t total;
    uint64_t max_read;
    struct timespec deadline;
    int has_deadline;
    int timed_out, over_budget, read_error;
};

static int io_expired(struct probe_io *io)
{
    if (io->timed_out)
        return 1;
    if (!io->has_deadline)
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > io->deadline.tv_sec ||
        (now.tv_sec == io->deadline.tv_sec && now.tv_nsec >= io->deadline.tv_nsec))
        io->timed_out = 1;
    return io->timed_out;
}

static int io_interrupt(void *opaque)
{
    struct probe_io *io = opaque;
    return io_expired(io) || io->over_budget || io->read_error;
}

static int io_read(void *opaque, uint8_t *buf, int n)
{
    struct probe_io *io = opaque;
    if (io_interrupt(io))
        return AVERROR_EXIT;
    if (n <= 0 || io->pos >= io->r->size)
        return AVERROR_EOF;
    size_t want = (size_t)n;
    if ((uint64_t)want > io->r->size - io->pos)
        want = (size_t)(io->r->size - io->pos);
    if (io->total + want > io->max_read) {
        io->over_budget = 1;
        return AVERROR_EXIT;
    }
    ssize_t got = io->r->read(io->r->user, io->pos, buf, want);
    if (got < 0) {
        io->read_error = 1;
        return AVERROR(EIO);
    }
    if (got == 0)
        return AVERROR_EOF;
    io->pos += (uint64_t)got;
    io->total += (uint64_t)got;
    return (int)got;
}

static int64_t io_seek(void *opaque, int64_t off, int whence)
{
    struct probe_io *io = opaque;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE)
        return io->r->size > INT64_MAX ? -1 : (int64_t)io->r->size;
    int64_t base;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)io->pos; break;
    case SEEK_END: base = (int64_t)io->r->size; break;
    default: return AVERROR(EINVAL);
    }
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
        return AVERROR(EINVAL);
    io->pos = (uint64_t)(base + off);
    return (int64_t)io->pos;
}

static int set_status(vodup_media_info *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_status(vodup_media_info *out, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
    out->status = status;
    return status;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Maps a libav* error after the I/O flags had their say. */
static int map_error(vodup_media_info *out, struct probe_io *io, int err, const char *what,
                     const char *fmtname, unsigned deadline_ms)
{
    char e[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(err, e, sizeof e);
    if (io->timed_out)
        return set_status(out, VODUP_PROBE_TIMEOUT, "probing took longer than %u ms", deadline_ms);
    if (io->over_budget)
        return set_status(out, VODUP_PROBE_TOO_LARGE,
                          "the file needs more than %llu bytes of reading to be understood",
                          (unsigned long long)io->max_read);
    if (io->read_error)
        return set_status(out, VODUP_PROBE_EIO, "the object could not be read");
    if (err == AVERROR(ENOMEM))
        return set_status(out, VODUP_PROBE_TOO_LARGE,
                          "the file needs more memory than the probe allows (%s)", what);
    return set_status(out, VODUP_PROBE_CORRUPT, "a %s file that cannot be read (%s: %s)",
                      fmtname, what, e);
}

static int is_still_image_format(const AVInputFormat *f)
{
    size_t n = strlen(f->name);
    return strcmp(f->name, "image2") == 0 || (n > 5 && strcmp(f->name + n - 5, "_pipe") == 0);
}

static int dims_over(const vodup_probe_limits *lim, int w, int h)
{
    return w < 0 || h < 0 || (unsigned)w > lim->max_width || (unsigned)h > lim->max_height;
}

/* Where decode_from starts: a seek to the target time, to the stream's start time, or to
 * the first byte (a demuxer that seeks by binary search over timestamps, MPEG-TS, can land
 * past the only keyframe of a short file both times). */
enum { SEEK_TO_TARGET, SEEK_TO_START, SEEK_TO_BYTE0 };

/* Decodes the first video frame at or after target (stream time base) following a seek as
 * `how` says; returns a frame (caller frees) or NULL. */
static AVFrame *decode_from(AVFormatContext *ic, AVCodecContext *dec, int vidx, int64_t seek_ts,
                            int64_t target, int how, struct probe_io *io,
                            const vodup_probe_limits *lim)
{
    int sr = how == SEEK_TO_BYTE0 ? av_seek_frame(ic, vidx, 0, AVSEEK_FLAG_BYTE)
                                  : av_seek_frame(ic, vidx, seek_ts, AVSEEK_FLAG_BACKWARD);
    if (sr < 0)
        return NULL;
    avcodec_flush_buffers(dec);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc(), *best = NULL;
    if (!pkt || !frame)
        goto out;
    unsigned packets = 0;
    int draining = 0;
    while (!best && !io_interrupt(io)) {
        int rc;
        if (!draining) {
            rc = av_read_frame(ic, pkt);
            if (rc < 0) {
                draining = 1;
                avcodec_send_packet(dec, NULL);
            } else {
                if (pkt->stream_index != vidx) {
                    av_packet_unref(pkt);
                    continue;
                }
                packets++;
                rc = avcodec_send_packet(dec, pkt);
                av_packet_unref(pkt);
                if (rc < 0 && rc != AVERROR(EAGAIN) && rc != AVERROR_INVALIDDATA)
                    break;
            }
        }
        for (;;) {
            rc = avcodec_receive_frame(dec, frame);
            if (rc < 0)
                break;
            int64_t ts = frame->best_effort_timestamp;
            if (ts == AV_NOPTS_VALUE || ts >= target || draining || packets >= lim->max_cover_packets) {
                best = frame;
                frame = NULL;
                break;
            }
            av_frame_unref(frame);
        }
        if (draining && !best)
            break;
        if (packets >= lim->max_cover_packets + 16)   /* decoder delay allowance */
            break;
    }
out:
    av_packet_free(&pkt);
    av_frame_free(&frame);
    return best;
}

static int make_cover(vodup_media_info *out, AVFormatContext *ic, int vidx, struct probe_io *io,
                      const vodup_probe_limits *lim)
{
    AVStream *st = ic->streams[vidx];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec) {
        copy_name(out->message, sizeof out->message, "no decoder for the video codec: no cover");
        return VODUP_PROBE_OK;
    }
    int status = VODUP_PROBE_OK;
    AVCodecContext *dec = avcodec_alloc_context3(codec), *enc = NULL;
    AVFrame *frame = NULL, *scaled = NULL;
    AVPacket *jpeg = NULL;
    struct SwsContext *sws = NULL;
    if (!dec || avcodec_parameters_to_context(dec, st->codecpar) < 0)
        goto nomem;
    dec->max_pixels = (int64_t)lim->max_width * lim->max_height;
    dec->thread_count = 1;
    dec->pkt_timebase = st->time_base;
    if (avcodec_open2(dec, codec, NULL) < 0) {
        status = map_error(out, io, AVERROR_INVALIDDATA, "opening the video decoder",
                           ic->iformat->name, lim->deadline_ms);
        goto done;
    }

    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    int64_t target = start;
    if (out->duration > 0)
        target = start + av_rescale_q((int64_t)(out->duration * PROBE_COVER_AT * AV_TIME_BASE),
                                      AV_TIME_BASE_Q, st->time_base);
    frame = decode_from(ic, dec, vidx, target, target, SEEK_TO_TARGET, io, lim);
    /* The seek or the decode there failed: the first frame will do. */
    if (!frame && !io_interrupt(io))
        frame = decode_from(ic, dec, vidx, start, AV_NOPTS_VALUE, SEEK_TO_START, io, lim);
    if (!frame && !io_interrupt(io))
        frame = decode_from(ic, dec, vidx, 0, AV_NOPTS_VALUE, SEEK_TO_BYTE0, io, lim);
    if (!frame) {
        if (io_interrupt(io))
            status = map_error(out, io, AVERROR_EXIT, "decoding the cover", ic->iformat->name,
                               lim->deadline_ms);
        else
            status = set_status(out, VODUP_PROBE_CORRUPT,
                                "a %s file whose video stream decodes to no frame", ic->iformat->name);
        goto done;
    }
    if (frame->width <= 0 || frame->height <= 0 || frame->format < 0) {
        status = set_status(out, VODUP_PROBE_CORRUPT, "the decoded video frame is empty");
        goto done;
    }
    if (dims_over(lim, frame->width, frame->height)) {
        status = set_status(out, VODUP_PROBE_TOO_LARGE, "a video frame of %dx%d is over %ux%u",
                            frame->width, frame->height, lim->max_width, lim->max_height);
        goto done;
    }
    if (frame->best_effort_timestamp != AV_NOPTS_VALUE)
        out->cover_time = (double)(frame->best_effort_timestamp - start) * av_q2d(st->time_base);
    if (out->cover_time < 0)
        out->cover_time = 0;

    /* Display size: stored size stretched by the sample aspect ratio, then capped. */
    double disp_w = frame->width;
    AVRational sar = av_guess_sample_aspect_ratio(ic, st, frame);
    if (sar.num > 0 && sar.den > 0)
        disp_w = frame->width * av_q2d(sar);
    double w = disp_w, h = frame->height;
    if (w > lim->cover_max_width) {
        h = h * lim->cover_max_width / w;
        w = lim->cover_max_width;
    }
    int ow = ((int)(w + 0.5)) & ~1, oh = ((int)(h + 0.5)) & ~1;   /* 4:2:0 wants even sizes */
    if (ow < 2)
        ow = 2;
    if (oh < 2)
        oh = 2;

    sws = sws_getContext(frame->width, frame->height, frame->format, ow, oh, AV_PIX_FMT_YUVJ420P,
                         SWS_BICUBIC, NULL, NULL, NULL);
    if (!sws) {
        status = set_status(out, VODUP_PROBE_CORRUPT, "the video frame's pixel format cannot be converted");
        goto done;
    }
    scaled = av_frame_alloc();
    if (!scaled)
        goto nomem;
    scaled->format = AV_PIX_FMT_YUVJ420P;
    scaled->width = ow;
    scaled->height = oh;
    if (av_frame_get_buffer(scaled, 0) < 0)
        goto nomem;
    if (sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height,
                  scaled->data, scaled->linesize) != oh) {
        status = set_status(out, VODUP_PROBE_CORRUPT, "the video frame could not be scaled");
        goto done;
    }

    const AVCodec *mjpeg = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (!mjpeg) {
        status = set_status(out, VODUP_PROBE_INTERNAL, "libavcodec has no mjpeg encoder");
        goto done;
    }
    enc = avcodec_alloc_context3(mjpeg);
    jpeg = av_packet_alloc();
    if (!enc || !jpeg)
        goto nomem;
    enc->width = ow;
    enc->height = oh;
    enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
    enc->time_base = (AVRational){1, 25};
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = FF_QP2LAMBDA * PROBE_JPEG_QSCALE;
    enc->thread_count = 1;
    scaled->quality = enc->global_quality;
    scaled->pts = 0;
    if (avcodec_open2(enc, mjpeg, NULL) < 0 || avcodec_send_frame(enc, scaled) < 0 ||
        avcodec_send_frame(enc, NULL) < 0 || avcodec_receive_packet(enc, jpeg) < 0) {
        status = set_status(out, VODUP_PROBE_INTERNAL, "the JPEG encoder failed");
        goto done;
    }
    if ((size_t)jpeg->size > VODUP_PROBE_MAX_COVER) {
        status = set_status(out, VODUP_PROBE_TOO_LARGE, "the cover JPEG is over %u bytes",
                            VODUP_PROBE_MAX_COVER);
        goto done;
    }
    out->cover = malloc((size_t)jpeg->size);
    if (!out->cover)
        goto nomem;
    memcpy(out->cover, jpeg->data, (size_t)jpeg->size);
    out->cover_len = (size_t)jpeg->size;
    out->cover_width = ow;
    out->cover_height = oh;
    goto done;
nomem:
    status = set_status(out, VODUP_PROBE_TOO_LARGE, "the file needs more memory than the probe allows (cover)");
done:
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_frame_free(&scaled);
    av_packet_free(&jpeg);
    avcodec_free_context(&dec);
    avcodec_free_context(&enc);
    return status;
}

/* A file whose index says a packet lies past the end of the file was cut short (an MP4
 * with its moov first and its mdat truncated opens fine otherwise). */
static int index_past_end(AVStream *st, uint64_t size, int64_t *over)
{
    int n = avformat_index_get_entries_count(st);
    for (int i = n - 1; i >= 0 && i >= n - 4; i--) {
        const AVIndexEntry *e = avformat_index_get_entry(st, i);
        if (e && e->pos >= 0 && (uint64_t)e->pos + (uint64_t)e->size > size) {
            *over = (int64_t)((uint64_t)e->pos + (uint64_t)e->size - size);
            return 1;
        }
    }
    return 0;
}

int vodup_probe(vodup_media_info *out, const vodup_media_reader *r, const vodup_probe_limits *lim_in)
{
    static const vodup_probe_limits defaults = VODUP_PROBE_LIMITS_INIT;
    const vodup_probe_limits *lim = lim_in ? lim_in : &defaults;
    memset(out, 0, sizeof *out);

    if (r->size == 0)
        return set_status(out, VODUP_PROBE_NOT_MEDIA, "the file is empty");
    if (r->size > lim->max_input)
        return set_status(out, VODUP_PROBE_TOO_LARGE, "the file is over %llu bytes",
                          (unsigned long long)lim->max_input);

    struct probe_io io = {.r = r, .max_read = lim->max_read};
    if (lim->deadline_ms) {
        clock_gettime(CLOCK_MONOTONIC, &io.deadline);
        io.deadline.tv_sec += lim->deadline_ms / 1000;
        io.deadline.tv_nsec += (long)(lim->deadline_ms % 1000) * 1000000L;
        if (io.deadline.tv_nsec >= 1000000000L) {
            io.deadline.tv_sec++;
            io.deadline.tv_nsec -= 1000000000L;
        }
        io.has_deadline = 1;
    }

    int status = VODUP_PROBE_OK;
    AVFormatContext *ic = NULL;
    AVDictionary **opts = NULL;
    unsigned nopts = 0;
    unsigned char *iobuf = av_malloc(PROBE_IO_BUF);
    AVIOContext *pb = iobuf ? avio_alloc_context(iobuf, PROBE_IO_BUF, 0, &io, io_read, NULL, io_seek) : NULL;
    if (!pb) {
        av_free(iobuf);
        return set_status(out, VODUP_PROBE_INTERNAL, "out of memory");
    }

    /* Recognise the format ourselves first: "no format at all" (NOT_MEDIA) and "a format
     * that then fails" (CORRUPT) are different answers. */
    const AVInputFormat *fmt = NULL;
    unsigned fmt_probe = lim->probesize > 0 && lim->probesize < (1 << 20) ? (unsigned)lim->probesize : (1u << 20);
    int score = av_probe_input_buffer2(pb, &fmt, "", NULL, 0, fmt_probe);
    if (score < 0 || !fmt) {
        if (io.timed_out || io.over_budget || io.read_error)
            status = map_error(out, &io, score, "recognising the format", "?", lim->deadline_ms);
        else
            status = set_status(out, VODUP_PROBE_NOT_MEDIA, "not a known audio or video format");
        goto done;
    }
    if (is_still_image_format(fmt)) {
        status = set_status(out, VODUP_PROBE_NOT_MEDIA, "a still image (%s), not audio or video", fmt->name);
        goto done;
    }

    ic = avformat_alloc_context();
    if (!ic) {
        status = set_status(out, VODUP_PROBE_INTERNAL, "out of memory");
        goto done;
    }
    ic->pb = pb;
    ic->flags |= AVFMT_FLAG_CUSTOM_IO;
    ic->interrupt_callback.callback = io_interrupt;
    ic->interrupt_callback.opaque = &io;
    ic->max_streams = (int)lim->max_streams;
    ic->probesize = lim->probesize;
    ic->max_analyze_duration = lim->analyze_us;
    ic->format_probesize = (int)fmt_probe;
    int rc = avformat_open_input(&ic, NULL, fmt, NULL);   /* frees ic on failure */
    if (rc < 0) {
        status = map_error(out, &io, rc, "reading the header", fmt->name, lim->deadline_ms);
        goto done;
    }
    copy_name(out->format, sizeof out->format, ic->iformat->name);

    for (unsigned i = 0; i < ic->nb_streams; i++) {
        AVCodecParameters *p = ic->streams[i]->codecpar;
        if (p->codec_type == AVMEDIA_TYPE_VIDEO && dims_over(lim, p->width, p->height)) {
            status = set_status(out, VODUP_PROBE_TOO_LARGE, "a video stream claims %dx%d, over %ux%u",
                                p->width, p->height, lim->max_width, lim->max_height);
            goto done;
        }
    }
    /* Decoders run inside find_stream_info: same frame-size cap, one thread. */
    nopts = ic->nb_streams;
    opts = nopts ? calloc(nopts, sizeof *opts) : NULL;
    if (nopts && !opts) {
        status = set_status(out, VODUP_PROBE_INTERNAL, "out of memory");
        goto done;
    }
    for (unsigned i = 0; i < nopts; i++) {
        av_dict_set_int(&opts[i], "max_pixels", (int64_t)lim->max_width * lim->max_height, 0);
        av_dict_set(&opts[i], "threads", "1", 0);
    }
    rc = avformat_find_stream_info(ic, opts);
    if (rc < 0 || io.timed_out || io.over_budget || io.read_error) {
        status = map_error(out, &io, rc < 0 ? rc : AVERROR_EXIT, "finding the streams", fmt->name,
                           lim->deadline_ms);
        goto done;
    }

    int vidx = -1, aidx = -1;
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        AVStream *st = ic->streams[i];
        AVCodecParameters *p = st->codecpar;
        if (p->codec_type == AVMEDIA_TYPE_VIDEO && vidx < 0 && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC) &&
            p->width > 0 && p->height > 0)
            vidx = (int)i;
        else if (p->codec_type == AVMEDIA_TYPE_AUDIO && aidx < 0 && p->sample_rate > 0 &&
                 p->ch_layout.nb_channels > 0)
            aidx = (int)i;
    }
    if (vidx < 0 && aidx < 0) {
        if (score < AVPROBE_SCORE_RETRY)
            status = set_status(out, VODUP_PROBE_NOT_MEDIA, "not a known audio or video format");
        else
            status = set_status(out, VODUP_PROBE_CORRUPT, "a %s file with no readable audio or video stream",
                                fmt->name);
        goto done;
    }
    int64_t over = 0;
    if ((vidx >= 0 && index_past_end(ic->streams[vidx], r->size, &over)) ||
        (aidx >= 0 && index_past_end(ic->streams[aidx], r->size, &over))) {
        status = set_status(out, VODUP_PROBE_CORRUPT,
                            "a %s file cut short: its index points %lld bytes past the end", fmt->name,
                            (long long)over);
        goto done;
    }

    if (ic->duration != AV_NOPTS_VALUE && ic->duration > 0)
        out->duration = (double)ic->duration / AV_TIME_BASE;
    out->bitrate = ic->bit_rate > 0 ? ic->bit_rate : 0;
    if (!out->bitrate && out->duration > 0)
        out->bitrate = (int64_t)((double)r->size * 8 / out->duration);
    if (vidx >= 0) {
        AVStream *st = ic->streams[vidx];
        if (dims_over(lim, st->codecpar->width, st->codecpar->height)) {
            status = set_status(out, VODUP_PROBE_TOO_LARGE, "a video stream of %dx%d is over %ux%u",
                                st->codecpar->width, st->codecpar->height, lim->max_width, lim->max_height);
            goto done;
        }
        out->width = st->codecpar->width;
        out->height = st->codecpar->height;
        AVRational fr = av_guess_frame_rate(ic, st, NULL);
        if (fr.num > 0 && fr.den > 0)
            out->fps = av_q2d(fr);
        copy_name(out->video_codec, sizeof out->video_codec, avcodec_get_name(st->codecpar->codec_id));
    }
    if (aidx >= 0) {
        AVCodecParameters *p = ic->streams[aidx]->codecpar;
        copy_name(out->audio_codec, sizeof out->audio_codec, avcodec_get_name(p->codec_id));
        out->audio_channels = p->ch_layout.nb_channels;
        out->sample_rate = p->sample_rate;
    }
    if (vidx >= 0 && lim->cover_max_width > 0)
        status = make_cover(out, ic, vidx, &io, lim);

done:
    if (opts) {
        for (unsigned i = 0; i < nopts; i++)
            av_dict_free(&opts[i]);
        free(opts);
    }
    avformat_close_input(&ic);
    if (pb) {
        av_freep(&pb->buffer);
        avio_context_free(&pb);
    }
    if (status != VODUP_PROBE_OK) {
        free(out->cover);
        out->cover = NULL;
        out->cover_len = 0;
    }
    out->status = status;
    return status;
}
